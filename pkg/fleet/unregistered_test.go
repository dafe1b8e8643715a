package fleet_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A post trigger for a location that is not registered is dead-lettered
// once (by contactsync, the owner of post triggers) before any handler
// runs: no HighLevel call, no request budget key, no token read for it.
// A registered location's trigger goes through all three readers.
func TestUnregisteredLocationLeavesNoState(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	loc := env.Locations[0].ID
	const ghost = "GhostLocation0123456"

	var mu sync.Mutex
	handled := map[string]int{}
	for _, durable := range []string{topology.DurableFetcher, topology.DurableContactSync, topology.DurableEnricher} {
		c, err := env.Deps.Consumer(topology.StreamTriggers, durable, func(ctx context.Context, msg jetstream.Msg) error {
			var ev socialsyncv1.PostEvent
			if _, err := bus.Decode(msg, &ev); err != nil {
				return err
			}
			mu.Lock()
			handled[ev.GetLocationId()]++
			mu.Unlock()
			// What a worker does first: a HighLevel call, through the
			// location's token and request budget.
			_, err := env.Deps.Client(ev.GetLocationId()).AllSocialTags(ctx, ev.GetLocationId())
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
	}
	for _, l := range []string{ghost, loc} {
		subject, _ := topology.PostTriggers.Subject(l)
		if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: l, PostId: "p1", EventId: "e-" + l}); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 20*time.Second, "both triggers settled by every reader", func() bool {
		s, err := env.JS.Stream(ctx, topology.StreamTriggers)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 0
	})
	mu.Lock()
	if handled[ghost] != 0 || handled[loc] != 3 {
		t.Errorf("handled %v; want %s's trigger 3 times, %s's never", handled, loc, ghost)
	}
	mu.Unlock()

	dlq, err := env.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dlq.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("%d dead letters, want 1", info.State.Msgs)
	}
	m, err := dlq.GetLastMsgForSubject(ctx, "socialsync.dlq.>")
	if err != nil {
		t.Fatal(err)
	}
	dl, err := bus.ParseDeadLetter(m.Subject, m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if dl.Worker != topology.DurableContactSync || dl.Location != ghost || dl.Class != "bad_input" || !strings.Contains(dl.Reason, "not registered") {
		t.Errorf("dead letter %+v; want contactsync's for %s, bad_input, saying it is not registered", dl, ghost)
	}

	// No per-location state in any bucket: the registered location has
	// its request budget keys, the unregistered one none.
	for _, bucket := range []string{topology.BucketRateBudget, bus.BucketDeliveries, topology.BucketTokens, topology.BucketLocations} {
		kv, err := env.JS.KeyValue(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var sawLoc bool
		for k := range keys.Keys() {
			if strings.Contains(k, ghost) {
				t.Errorf("bucket %s holds key %q of the unregistered location", bucket, k)
			}
			sawLoc = sawLoc || strings.Contains(k, loc)
		}
		if bucket == topology.BucketRateBudget && !sawLoc {
			t.Errorf("bucket %s holds no key of %s: the check proves nothing", bucket, loc)
		}
	}
}
