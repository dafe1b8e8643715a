package fleet_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// routed is a worker with one route (statistics requests) and one loop.
type routed struct {
	mu      sync.Mutex
	handled []string // locations
	looped  chan struct{}
}

func (w *routed) Routes() []bus.Route {
	return []bus.Route{{Stream: topology.StreamTriggers, Durable: topology.DurableStats, Concurrency: 1,
		Handler: func(_ context.Context, msg jetstream.Msg) error {
			var req socialsyncv1.StatsRequested
			loc, err := bus.Decode(msg, &req)
			if err != nil {
				return err
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			w.handled = append(w.handled, loc)
			return nil
		}}}
}

func (w *routed) Loops() []run.Loop {
	return []run.Loop{{Name: "loop", Run: func(ctx context.Context) error {
		close(w.looped)
		<-ctx.Done()
		return nil
	}}}
}

func (w *routed) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.handled...)
}

// Components runs a worker's routes, with the location check, and its
// loops. A location refused as unregistered is accepted as soon as it is
// registered: the check remembers only "registered".
func TestComponentsRunRoutesAndLoops(t *testing.T) {
	env := fleettest.Start(t, "empty")
	ctx := context.Background()
	w := &routed{looped: make(chan struct{})}
	env.RunWorker(t, "routed", w)
	select {
	case <-w.looped:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not start")
	}

	// A simulator location, not registered yet.
	var created struct{ ID, Token string }
	env.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"timezone": "UTC"}, &created)
	publish := func(id string) {
		t.Helper()
		subject, _ := topology.StatsTriggers.Subject(created.ID)
		if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: created.ID, EventId: id}); err != nil {
			t.Fatal(err)
		}
	}
	publish("before")
	fleettest.Eventually(t, 10*time.Second, "the unregistered location's dead letter", func() bool {
		return len(bustest.DeadLetters(t, env.JS, bus.DeadLetterPrefix+".>")) == 1
	})
	if got := w.seen(); len(got) != 0 {
		t.Fatalf("handled %v before the location was registered", got)
	}

	// Registered, then published at once: handled.
	env.AddLocation(t, ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: "UTC"})
	publish("after")
	fleettest.Eventually(t, 10*time.Second, "the request handled once the location is registered", func() bool { return len(w.seen()) == 1 })
	if n := len(bustest.DeadLetters(t, env.JS, bus.DeadLetterPrefix+".>")); n != 1 {
		t.Errorf("%d dead letters, want the one from before the registration", n)
	}
}
