package fleet_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A location whose token HighLevel refuses (401 after the client's retry)
// does not lose its work: the message waits for the location to be
// reconnected, deferred, and is counted as waiting; no dead letter.
func TestAuthFailureWaitsInsteadOfDeadLettering(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	loc := env.Locations[0].ID
	if err := env.Deps.Creds.PutToken(ctx, loc, creds.Token{AccessToken: "pit-revoked-00000000-0000-0000-0000-000000000000"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(env.Deps.Telemetry.MetricsHandler())
	t.Cleanup(srv.Close)

	var calls atomic.Int32
	var lastErr atomic.Value
	c, err := env.Deps.Consumer(topology.StreamTriggers, topology.DurableStats, func(ctx context.Context, msg jetstream.Msg) error {
		calls.Add(1)
		_, err := env.Deps.Client(loc).AllSocialTags(ctx, loc)
		if err != nil {
			lastErr.Store(err.Error())
		}
		return err
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	subject, _ := topology.StatsTriggers.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	url := srv.URL + "/metrics"
	fleettest.Eventually(t, 20*time.Second, "the trigger deferred", func() bool {
		return telemetrytest.Scrape(t, url).Sum("socialsync_messages_handled_total", "worker", topology.DurableStats, "outcome", bus.OutcomeDeferred) == 1
	})
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want once (the next try is %v away)", n, bus.AuthWait)
	}
	if e, _ := lastErr.Load().(string); !strings.Contains(e, "401") {
		t.Errorf("handler error %q, want HighLevel's 401", e)
	}
	page := telemetrytest.Scrape(t, url)
	if got := page.Sum("socialsync_dead_letters_total"); got != 0 {
		t.Errorf("%v dead letters, want none", got)
	}
	waiting, err := topology.WaitingTriggers(ctx, env.JS)
	if err != nil || waiting[loc] != 1 {
		t.Errorf("waiting triggers of %s: %d, %v; want 1", loc, waiting[loc], err)
	}
}
