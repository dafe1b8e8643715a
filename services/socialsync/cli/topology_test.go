package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
)

// An operator command on a server whose topology was never applied says
// so instead of creating it; `topology check` lists what is missing,
// `topology apply` creates it and says what it did, and a second apply
// changes nothing.
func TestTopologyApplyAndCheck(t *testing.T) {
	url := bustest.StartServer(t).ClientURL()
	if _, errOut, code := runCLI(t, "dlq", "--nats", url); code != 1 || !strings.Contains(errOut, "socialsync topology apply") ||
		!strings.Contains(errOut, "stream SOCIALSYNC_DLQ") {
		t.Errorf("dlq before apply: exit %d, %q; want 1 naming the missing stream and the apply command", code, errOut)
	}
	out, _, code := runCLI(t, "topology", "check", "--nats", url)
	if code != 1 || !strings.Contains(out, "missing\tconsumer fetcher on SOCIALSYNC_TRIGGERS") || !strings.Contains(out, "missing\tkey-value bucket socialsync_tokens") {
		t.Errorf("check before apply: exit %d:\n%s", code, out)
	}

	out, errOut, code := runCLI(t, "topology", "apply", "--nats", url)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{`(?m)^created +stream SOCIALSYNC_TRIGGERS$`, `(?m)^created +consumer fetcher on SOCIALSYNC_TRIGGERS$`,
		`(?m)^created +key-value bucket socialsync_tokens$`, `(?m)^created +object store socialsync_reports$`, `topology applied: \d+ created, 0 updated, 0 unchanged`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("apply output lacks %s:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "topology", "apply", "--nats", url)
	if code != 0 || !regexp.MustCompile(`topology applied: 0 created, 0 updated, \d+ unchanged`).MatchString(out) {
		t.Errorf("second apply: exit %d:\n%s", code, out)
	}
	if out, errOut, code := runCLI(t, "topology", "check", "--nats", url); code != 0 || !strings.Contains(out, "topology present") {
		t.Errorf("check after apply: exit %d: %s%s", code, out, errOut)
	}
	t.Setenv("SOCIALSYNC_STREAM_REPLICAS", "1")
	t.Setenv("SOCIALSYNC_LIMIT_EVENTS_BYTES", "50000000")
	if out, _, code := runCLI(t, "topology", "apply", "--nats", url); code != 0 || !regexp.MustCompile(`(?m)^updated +stream SOCIALSYNC_EVENTS$`).MatchString(out) {
		t.Errorf("apply with a new events limit: exit %d:\n%s", code, out)
	}
}
