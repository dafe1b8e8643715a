package fleet_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
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

// reauthFleet is one process of the fleet on real JetStream, its HighLevel
// the simulator over HTTP, holding messages for 200 ms a round.
type reauthFleet struct {
	deps *fleet.Deps
	loc  string
	// tok is a good token of loc.
	tok creds.Token
}

func newReauthFleet(t *testing.T, ctx context.Context) reauthFleet {
	t.Helper()
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
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	tok := fleettest.Authorize(t, srv.URL, ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret}, loc, "", ghl.UserTypeLocation)
	return reauthFleet{deps: deps, loc: loc, tok: tok}
}

// run serves the stats durable with h and publishes one StatsRequested
// for the location.
func (f reauthFleet) run(t *testing.T, ctx context.Context, h bus.Handler) {
	t.Helper()
	c, err := f.deps.Consumer(topology.StreamTriggers, topology.DurableStats, h, 1)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, func(ctx context.Context) error { return f.deps.Serve(ctx, fleet.Component{Name: "stats", Run: c.Run}) })
	subject, err := topology.StatsTriggers.Subject(f.loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: f.loc, RequestedBy: "found"}); err != nil {
		t.Fatal(err)
	}
}

// soon is well within bus.AuthWait (5 minutes), and generous for a
// message held 200 ms a round on a loaded machine.
const soon = bus.AuthWait / 5

// The message whose handler finds the location needing re-authorisation
// (its refresh token refused while handling it, through the real HighLevel
// client) is held like the later ones: looked at again after
// SOCIALSYNC_PAUSE_RECHECK, not after the auth class's wait (bus.AuthWait),
// so it is handled soon after the location is connected again; never
// dead-lettered.
func TestReauthFoundByTheHandlerIsHeld(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newReauthFleet(t, ctx)
	// An expired access token whose refresh token HighLevel never issued,
	// not marked yet: the handler's token call finds out.
	spent := f.tok
	spent.RefreshToken, spent.ExpiresAt = "not-a-refresh-token", time.Now().Add(-time.Minute)
	if err := f.deps.Creds.AddOAuth(ctx, creds.Location{ID: f.loc}, spent); err != nil {
		t.Fatal(err)
	}
	handled := make(chan string, 16)
	refused := make(chan struct{}, 16)
	f.run(t, ctx, func(ctx context.Context, msg jetstream.Msg) error {
		var req socialsyncv1.StatsRequested
		if _, err := bus.Decode(msg, &req); err != nil {
			return err
		}
		if _, err := f.deps.Client(f.loc).Accounts(ctx, f.loc); err != nil {
			refused <- struct{}{}
			return fmt.Errorf("statistics of %s: %w", f.loc, err)
		}
		handled <- req.GetRequestedBy()
		return nil
	})
	select {
	case <-refused:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler never met the refused refresh token")
	}
	fleettest.Eventually(t, 30*time.Second, "the location marked as needing re-authorisation", func() bool {
		l, err := f.deps.Creds.Location(ctx, f.loc)
		return err == nil && l.State == creds.StateNeedsReauth
	})

	// Connected again: the message is handled well within bus.AuthWait.
	if err := f.deps.Creds.AddOAuth(ctx, creds.Location{ID: f.loc}, f.tok); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handled:
	case <-time.After(soon):
		t.Fatalf("the message that found the location needing re-authorisation was not handled within %v of its connection", soon)
	}
	assertNoDeadLetters(t, f.deps)
}

// Another process may find the location needing re-authorisation and mark
// its token record an instant before its location record: a handler here
// then meets the mark (a *creds.NeedsReauthError from its token source)
// while the location record still says active. Its message is held all
// the same, not left to bus.AuthWait.
func TestReauthFoundBeforeTheLocationRecordIsHeld(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newReauthFleet(t, ctx)
	if err := f.deps.Creds.AddOAuth(ctx, creds.Location{ID: f.loc}, f.tok); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	handled := make(chan struct{}, 16)
	f.run(t, ctx, func(ctx context.Context, msg jetstream.Msg) error {
		if calls.Add(1) == 1 {
			// What the HighLevel client returns when the token source
			// finds the mark another process left.
			return fmt.Errorf("statistics of %s: %w", f.loc, &ghl.Error{Kind: ghl.KindAuth,
				Err: &creds.NeedsReauthError{Location: f.loc, Reason: "HighLevel rejected the refresh token (400 invalid_grant)", Since: time.Now()}})
		}
		handled <- struct{}{}
		return nil
	})
	select {
	case <-handled:
	case <-time.After(soon):
		t.Fatalf("the message whose handler met the mark was not handled again within %v", soon)
	}
	if l, err := f.deps.Creds.Location(ctx, f.loc); err != nil || l.State != creds.StateActive {
		t.Fatalf("location record: %+v, %v; want it active throughout", l, err)
	}
	assertNoDeadLetters(t, f.deps)
}
