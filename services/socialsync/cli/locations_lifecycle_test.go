package cli

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// `locations pause` and `resume`: the list shows the location paused with
// the triggers it holds, and `audit` lists both actions as the operator's.
func TestLocationsPauseResumeAudit(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	if out, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", "Loc1", "--pit", "pit-3e0f5c1a-7d7b-4a53-9d62-2b3f5f0f9a11"); code != 0 {
		t.Fatalf("add: exit %d: %s%s", code, out, errOut)
	}
	out, errOut, code := runCLIAt(t, now, "locations", "pause", "--nats", env.URL(), "--location", "Loc1")
	if code != 0 || !strings.Contains(out, "paused since 2026-03-01T12:00:00Z: 0 triggers kept") {
		t.Fatalf("pause: exit %d: %s%s", code, out, errOut)
	}
	msg := nats.NewMsg("socialsync.trigger.stats.Loc1")
	msg.Data = bustest.Marshal(t, &socialsyncv1.StatsRequested{LocationId: "Loc1", RequestedBy: "test"})
	if _, err := env.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, "locations", "list", "--nats", env.URL())
	if code != 0 || !regexp.MustCompile(`(?m)^Loc1 .* paused .* 1 +\d{4}-\d\d-\d\d`).MatchString(out) {
		t.Errorf("list of a paused location holding one trigger: exit %d:\n%s%s", code, out, errOut)
	}
	at = at.Add(time.Hour)
	out, errOut, code = runCLIAt(t, now, "locations", "resume", "--nats", env.URL(), "--location", "Loc1")
	if code != 0 || !strings.Contains(out, "running: 1 triggers to process") {
		t.Fatalf("resume: exit %d: %s%s", code, out, errOut)
	}
	// Resuming a running location changes nothing and records nothing.
	if _, errOut, code := runCLIAt(t, now, "locations", "resume", "--nats", env.URL(), "--location", "Loc1"); code != 0 {
		t.Fatalf("second resume: exit %d: %s", code, errOut)
	}
	out, errOut, code = runCLI(t, "audit", "--nats", env.URL(), "--location", "Loc1")
	if code != 0 {
		t.Fatalf("audit: exit %d: %s", code, errOut)
	}
	want := regexp.MustCompile(`(?s)2026-03-01T13:00:00Z +operator +resume +Loc1.*\n2026-03-01T12:00:00Z +operator +pause +Loc1`)
	if !want.MatchString(out) || strings.Count(out, "resume") != 1 {
		t.Errorf("audit, newest first, one resume:\n%s", out)
	}
	for _, bad := range [][]string{
		{"locations", "pause", "--nats", env.URL()},
		{"locations", "pause", "--nats", env.URL(), "--location", "bad.id"},
		{"audit", "--nats", env.URL(), "--limit", "0"},
	} {
		if _, errOut, code := runCLI(t, bad...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
		}
	}
	if _, errOut, code := runCLI(t, "locations", "pause", "--nats", env.URL(), "--location", "Nope1"); code == 0 || !strings.Contains(errOut, "Nope1") {
		t.Errorf("pause of an unknown location: exit %d: %s", code, errOut)
	}
}
