package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// `workflows apply` refuses, with a message naming the rule, the files
// whose cost has no bound, and stores nothing.
func TestWorkflowsApplyRefusesCostlyFiles(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	url := env.URL()
	tests := []struct {
		name, file, want string
	}{
		{"alias bomb", filepath.Join("..", "..", "..", "pkg", "automation", "testdata", "alias-bomb.yaml"), "anchors and aliases are not allowed"},
		{"nested predicates over a range", writeFile(t, "spin.yaml", "workflows:\n  - name: spin\n    on: tag.created\n"+
			"    when: 'let r = 1..1000; any(r, any(r, any(r, any(r, # < 0))))'\n    actions: [{publish: {subject: acme.x}}]\n"),
			"predicate nested inside a predicate over a range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "workflows", "apply", "-f", tt.file, "--nats", url)
			if code == 0 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("apply: exit %d, stdout %q, stderr %q; want a refusal naming %q", code, out, errOut, tt.want)
			}
		})
	}
	if out, _, _ := runCLI(t, "workflows", "list", "--nats", url); strings.Contains(out, "spin") || strings.Contains(out, "bomb") {
		t.Errorf("a refused workflow was stored:\n%s", out)
	}
}
