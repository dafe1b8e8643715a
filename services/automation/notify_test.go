package automationworker_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

// TestNotifications runs two replicas of the worker with a notification
// URL: a receiver on 127.0.0.1 (allowed as the workflows' webhooks are)
// gets one signed notification for a location needing re-authorisation
// and one for a new dead letter, naming the location and the class and
// carrying no secret, and nothing more once both durables have
// acknowledged everything: the replicas share the durables, so each
// event notifies once.
func TestNotifications(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	const secret = "notify-signing-key-0123456789"
	h := newHook(t, secret, 200)
	secretFile := filepath.Join(t.TempDir(), "notify-secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		startNotifying(t, env, func(c *automationworker.Config) {
			c.NotifyURL, c.NotifySecretFile, c.WebhookAllowedHosts = h.url, secretFile, hookAllowance
		})
	}

	publishEvent(t, env, topology.LocationEvents, loc, &socialsyncv1.LocationStateChanged{LocationId: loc,
		State: socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH, PreviousState: socialsyncv1.LocationState_LOCATION_STATE_ACTIVE,
		Reason: "refresh token rejected: invalid_grant", Timestamp: timestamp(time.Now())})
	// A trigger the segments durable cannot read: one dead letter.
	subject, err := topology.SegmentTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.JS.Publish(context.Background(), subject, []byte{0xff, 0x01}); err != nil {
		t.Fatal(err)
	}

	fleettest.Eventually(t, 60*time.Second, "two notifications", func() bool { good, _ := h.calls(); return good >= 2 })
	fleettest.Eventually(t, 30*time.Second, "both notifier durables done", func() bool {
		ev := bustest.ConsumerInfo(t, env.JS, topology.StreamEvents, topology.DurableNotifier)
		dlq := bustest.ConsumerInfo(t, env.JS, "SOCIALSYNC_DLQ", topology.DurableNotifier)
		return ev.NumPending+uint64(ev.NumAckPending) == 0 && dlq.NumPending+uint64(dlq.NumAckPending) == 0
	})
	good, bad := h.calls()
	if good != 2 || bad != 0 {
		t.Fatalf("receiver got %d signed and %d unsigned notifications, want 2 and 0", good, bad)
	}
	h.mu.Lock()
	bodies := h.bodies
	h.mu.Unlock()
	byEvent := map[string]automationworker.Notice{}
	for _, b := range bodies {
		if strings.Contains(string(b), secret) {
			t.Errorf("a notification carries the signing key: %s", b)
		}
		var n automationworker.Notice
		if err := json.Unmarshal(b, &n); err != nil {
			t.Fatal(err)
		}
		if n.ID == "" {
			t.Errorf("notification without an id: %s", b)
		}
		byEvent[n.Event] = n
	}
	if n := byEvent[automationworker.NoticeNeedsReauth]; n.Location != loc || !strings.Contains(n.Reason, "invalid_grant") {
		t.Errorf("re-authorisation notice %+v, want location %s and the reason", n, loc)
	}
	n := byEvent[automationworker.NoticeDeadLetters]
	if len(n.DeadLetters) != 1 || n.DeadLetters[0].Location != loc || n.DeadLetters[0].Class != "bad_input" ||
		n.DeadLetters[0].Worker != topology.DurableSegments || n.DeadLetters[0].Seq == 0 {
		t.Errorf("dead-letter notice %+v, want the segments durable's bad input at %s", n, loc)
	}
}

// TestNotificationSettings checks that a notification URL needs its
// signing key, and a URL that is not absolute http(s) is refused, each
// error naming the variable.
func TestNotificationSettings(t *testing.T) {
	env := fleettest.Start(t, "demo")
	for _, tc := range []struct {
		url, file, want string
	}{
		{"https://hooks.example.com/socialsync", "", "SOCIALSYNC_NOTIFY_SECRET_FILE"},
		{"ftp://hooks.example.com/x", "/nonexistent", "SOCIALSYNC_NOTIFY_URL"},
		{"https://hooks.example.com/socialsync", filepath.Join(t.TempDir(), "missing"), "SOCIALSYNC_NOTIFY_SECRET_FILE"},
	} {
		cfg := automationworker.Config{Config: env.Deps.Config, Concurrency: 1, TagPrefix: "social:", BulkMin: 2,
			NotifyURL: tc.url, NotifySecretFile: tc.file}
		_, err := automationworker.New(cfg, deps(t, env))
		if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("url %q, file %q: err = %v, want a config error naming %s", tc.url, tc.file, err, tc.want)
		}
	}
}

// startNotifying runs a replica of the worker with the dead-letter feed,
// as its main wires it.
func startNotifying(t *testing.T, env *fleettest.Env, change func(*automationworker.Config)) {
	t.Helper()
	cfg := automationworker.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}
	change(&cfg)
	s, err := automationworker.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	d := deps(t, env)
	d.Notices = s.Notices
	w, err := automationworker.New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	env.RunWorker(t, "automation", w)
}
