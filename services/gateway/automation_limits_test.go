package gateway_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PUT /v1/workflows refuses, fast and with a message naming the rule, the
// definition files that cost the gateway or the workers without bound.
func TestApplyWorkflowsRefusesCostlyFiles(t *testing.T) {
	w := start(t)
	bomb, err := os.ReadFile(filepath.Join("..", "..", "pkg", "automation", "testdata", "alias-bomb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		body string
		want string
	}{
		{"alias bomb", string(bomb), "anchors and aliases are not allowed"},
		{"nested predicates over a range", "workflows:\n  - name: spin\n    on: tag.created\n" +
			"    when: 'let r = 1..1000; any(r, any(r, any(r, any(r, # < 0))))'\n    actions: [{publish: {subject: acme.x}}]\n",
			"predicate nested inside a predicate over a range"},
	}
	h := http.Header{"Authorization": {"Bearer " + testKey}, "Content-Type": {"application/yaml"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			a := w.do(t, "PUT", "/v1/workflows", h, []byte(tt.body))
			t.Logf("answered %d after %s", a.status, time.Since(start))
			if a.status != http.StatusUnprocessableEntity || !strings.Contains(string(a.body), tt.want) {
				t.Fatalf("PUT /v1/workflows: %d %s; want 422 naming %q", a.status, a.body, tt.want)
			}
		})
	}
	if a := w.api(t, "GET", "/v1/workflows", ""); strings.Contains(string(a.body), "spin") || strings.Contains(string(a.body), "bomb") {
		t.Errorf("a refused workflow was stored: %s", a.body)
	}
}
