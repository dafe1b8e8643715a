package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// segments and workflows apply, list and delete what the examples define,
// and refuse a bad file with its line and field, storing nothing.
func TestSegmentsAndWorkflowsCommands(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	url := env.URL()
	seg := filepath.Join("..", "..", "..", "examples", "segments", "engaged-promo-fans.yaml")
	if out, errOut, code := runCLI(t, "segments", "apply", "-f", seg, "--nats", url); code != 0 || !strings.Contains(out, "engaged-promo-fans created") {
		t.Fatalf("apply: exit %d: %s%s", code, out, errOut)
	}
	if out, _, code := runCLI(t, "segments", "apply", "-f", seg, "--nats", url); code != 0 || !strings.Contains(out, "engaged-promo-fans unchanged") {
		t.Errorf("apply again: exit %d: %s", code, out)
	}
	out, errOut, code := runCLI(t, "segments", "list", "--nats", url)
	if code != 0 || !strings.Contains(out, "engaged-promo-fans") || !strings.Contains(out, "all social:promo") {
		t.Errorf("list: exit %d: %s%s", code, out, errOut)
	}

	wf := filepath.Join("..", "..", "..", "examples", "workflows", "segment-followups.yaml")
	if out, errOut, code := runCLI(t, "workflows", "apply", "-f", wf, "--nats", url); code != 0 || !strings.Contains(out, "promo-vip-on-enter created") {
		t.Fatalf("workflows apply: exit %d: %s%s", code, out, errOut)
	}
	out, _, _ = runCLI(t, "workflows", "list", "--nats", url)
	if !strings.Contains(out, "on segment.entered when segment == \"engaged-promo-fans\"") {
		t.Errorf("workflows list:\n%s", out)
	}

	bad := writeFile(t, "bad.yaml", "workflows:\n  - name: announce\n    on: tag.created\n    when: 'tagNme startsWith \"promo\"'\n    actions:\n      - publish: { subject: acme.newtag }\n")
	_, errOut, code = runCLI(t, "workflows", "apply", "-f", bad, "--nats", url)
	if code == 0 || !strings.Contains(errOut, bad+":4:") || !strings.Contains(errOut, "workflows[0].when") || !strings.Contains(errOut, "tagNme") {
		t.Errorf("bad workflow: exit %d, stderr %q; want the line (4) and the field (workflows[0].when)", code, errOut)
	}
	badSeg := writeFile(t, "bad.yaml", "segments:\n  - name: fans\n    allTag: [social:promo]\n")
	_, errOut, code = runCLI(t, "segments", "validate", "-f", badSeg)
	if code == 0 || !strings.Contains(errOut, badSeg+":3:") || !strings.Contains(errOut, "allTag") {
		t.Errorf("bad segment: exit %d, stderr %q", code, errOut)
	}
	if out, _, _ := runCLI(t, "workflows", "list", "--nats", url); strings.Contains(out, "announce ") {
		t.Errorf("a refused workflow was stored:\n%s", out)
	}

	if out, errOut, code := runCLI(t, "workflows", "apply", "-f", wf, "--nats", url, "--prune"); code != 0 {
		t.Errorf("prune: exit %d: %s%s", code, out, errOut)
	}
	if _, errOut, code := runCLI(t, "segments", "delete", "--name", "engaged-promo-fans", "--nats", url); code != 0 {
		t.Errorf("delete: exit %d: %s", code, errOut)
	}
	if _, errOut, code := runCLI(t, "segments", "delete", "--name", "engaged-promo-fans", "--nats", url); code == 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("delete again: exit %d: %s", code, errOut)
	}
	if out, _, _ := runCLI(t, "segments", "list", "--nats", url); strings.Contains(out, "engaged-promo-fans") {
		t.Errorf("deleted segment still listed:\n%s", out)
	}
}
