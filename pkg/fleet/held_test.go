package fleet_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A paused location's triggers are kept: delivered, handed back without
// running the handler, never dead-lettered; once resumed, every one is
// handled. A location needing re-authorisation is held the same way and
// handled once connected again.
func TestPausedLocationKeepsItsTriggers(t *testing.T) {
	natsPort := freePort(t)
	startNATS(t, natsPort, t.TempDir())
	cfg := testConfig(t, "nats://127.0.0.1:"+strconv.Itoa(natsPort))
	cfg.PauseRecheck = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	handled := serveStats(ctx, t, deps, nil)
	// Paused before any of its messages was looked at, so that no process
	// trusts an earlier answer (for 2 s).
	if _, err := deps.Creds.Pause(ctx, testLocation, "operator"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		publishStats(t, deps, "paused "+strconv.Itoa(i))
	}
	waitKept(t, deps, handled, 3)
	if n, err := topology.HeldTriggers(ctx, deps.JS, testLocation); err != nil || n != 3 {
		t.Errorf("held triggers: %d, %v; want 3", n, err)
	}

	if _, err := deps.Creds.Resume(ctx, testLocation); err != nil {
		t.Fatal(err)
	}
	waitAll(t, handled, 3)
	assertNoDeadLetters(t, deps)
}

// waitKept waits until the stats durable has delivered n triggers and
// handed each back at least once, none of them handled.
func waitKept(t *testing.T, deps *fleet.Deps, handled <-chan string, n int) {
	t.Helper()
	ctx := context.Background()
	stats, err := deps.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableStats)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "the held triggers delivered and handed back", func() bool {
		info, err := stats.Info(ctx)
		return err == nil && info.NumAckPending == n && info.NumRedelivered == n
	})
	select {
	case by := <-handled:
		t.Fatalf("trigger %q handled while its location is held", by)
	default:
	}
}

// waitAll waits until n different triggers have been handled.
func waitAll(t *testing.T, handled <-chan string, n int) {
	t.Helper()
	got := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case by := <-handled:
			got[by] = true
		case <-deadline:
			t.Fatalf("handled only %v of %d", got, n)
		}
	}
}

func assertNoDeadLetters(t *testing.T, deps *fleet.Deps) {
	t.Helper()
	dlq, err := deps.JS.Stream(context.Background(), bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d dead letters; want none", info.State.Msgs)
	}
}

// SOCIALSYNC_PAUSE_MAX must be shorter than the triggers' max age, or the
// process does not start; the error names the variable.
func TestPauseMaxShorterThanTriggersMaxAge(t *testing.T) {
	cfg := fleet.DefaultConfig()
	cfg.TokenKey = "x"
	cfg.PauseMax = topology.TriggersMaxAge
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "SOCIALSYNC_PAUSE_MAX") {
		t.Errorf("PauseMax = the max age: %v; want an error naming SOCIALSYNC_PAUSE_MAX", err)
	}
	cfg.PauseMax = fleet.DefaultPauseMax
	if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), "PAUSE") {
		t.Errorf("the default: %v", err)
	}
}

// A location whose refresh token HighLevel rejects needs
// re-authorisation: an automatic pause. Its triggers are kept, never
// handled nor dead-lettered, and handled by themselves once it is
// connected again.
func TestReauthIsAnAutomaticPause(t *testing.T) {
	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	app := sim.Apps()[0]
	loc := sim.Locations()[0].ID

	natsPort := freePort(t)
	startNATS(t, natsPort, t.TempDir())
	cfg := testConfig(t, "nats://127.0.0.1:"+strconv.Itoa(natsPort))
	cfg.PauseRecheck = 200 * time.Millisecond
	cfg.GHLBaseURL, cfg.GHLClientID, cfg.GHLClientSecret = srv.URL, app.ClientID, app.ClientSecret
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })

	// An expired access token whose refresh token HighLevel never issued.
	tok := fleettest.Authorize(t, srv.URL, ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret}, loc, "", ghl.UserTypeLocation)
	spent := tok
	spent.RefreshToken, spent.ExpiresAt = "not-a-refresh-token", time.Now().Add(-time.Minute)
	if err := deps.Creds.AddOAuth(ctx, creds.Location{ID: loc}, spent); err != nil {
		t.Fatal(err)
	}
	if _, err := deps.Creds.TokenSource(loc).Token(); !errors.Is(err, creds.ErrNeedsReauth) {
		t.Fatalf("token of a location whose refresh token is refused: %v; want ErrNeedsReauth", err)
	}

	handled := make(chan string, 16)
	c, err := deps.Consumer(topology.StreamTriggers, topology.DurableStats, func(ctx context.Context, msg jetstream.Msg) error {
		var req socialsyncv1.StatsRequested
		if _, err := bus.Decode(msg, &req); err != nil {
			return err
		}
		handled <- req.GetRequestedBy()
		return nil
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, func(ctx context.Context) error { return deps.Serve(ctx, fleet.Component{Name: "stats", Run: c.Run}) })
	subject, err := topology.StatsTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "held " + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitKept(t, deps, handled, 2)

	// Connected again: the kept triggers are handled, none dead-lettered.
	if err := deps.Creds.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
		t.Fatal(err)
	}
	waitAll(t, handled, 2)
	assertNoDeadLetters(t, deps)
}
