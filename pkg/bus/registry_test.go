package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// registry is a set of registered locations; down makes it fail.
type registry struct {
	mu    sync.Mutex
	known map[string]bool
	down  bool
	asked atomic.Int32
}

func (r *registry) Registered(_ context.Context, loc string) (bool, error) {
	r.asked.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return false, errors.New("locations bucket unavailable")
	}
	return r.known[loc], nil
}

// A post trigger for a location that is not registered never reaches a
// handler and leaves one dead letter, contactsync's; the others ack it.
// A registered location's trigger is handled by all three.
func TestUnregisteredLocationDeadLetteredOnce(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	reg := &registry{known: map[string]bool{"loc1": true}}
	var got outcomes
	var mu sync.Mutex
	handled := map[string]int{}
	for _, d := range []string{topology.DurableFetcher, topology.DurableContactSync, topology.DurableEnricher} {
		run(t, js, spec(t, topo, topology.StreamTriggers, d), func(_ context.Context, msg jetstream.Msg) error {
			mu.Lock()
			defer mu.Unlock()
			handled[msg.Subject()]++
			return nil
		}, bus.ConsumerOptions{OnSettle: got.add, Middleware: []bus.Middleware{bus.Registered(reg, 0)}})
	}
	publishRaw(t, js, "socialsync.trigger.post.ghost1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "ghost1", PostId: "p1"}))
	publishRaw(t, js, "socialsync.trigger.post.loc1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}))
	bustest.WaitFor(t, 10*time.Second, "six settlements", func() bool { return len(got.list()) >= 6 })
	dls := deadLetters(t, js, 1)
	if dl := dls[0]; dl.Worker != topology.DurableContactSync || dl.Class != "bad_input" || dl.Location != "ghost1" || !strings.Contains(dl.Reason, "not registered") {
		t.Errorf("dead letter %+v; want contactsync's, bad_input, ghost1, saying it is not registered", dl)
	}
	mu.Lock()
	if handled["socialsync.trigger.post.ghost1"] != 0 || handled["socialsync.trigger.post.loc1"] != 3 {
		t.Errorf("handled %v; want loc1's trigger 3 times, ghost1's never", handled)
	}
	mu.Unlock()
	bustest.WaitFor(t, 5*time.Second, "both triggers removed", func() bool { return bustest.StreamMsgs(t, js, topology.StreamTriggers) == 0 })
}

// A registry that cannot answer leaves the message to be retried, not
// dead-lettered.
func TestRegistryDownRetries(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	reg := &registry{known: map[string]bool{"loc1": true}, down: true}
	var got outcomes
	var calls atomic.Int32
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableStats), func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return nil
	}, bus.ConsumerOptions{OnSettle: got.add, Middleware: []bus.Middleware{bus.Registered(reg, 0)}, Backoff: bus.Backoff{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond}})
	publishRaw(t, js, "socialsync.trigger.stats.loc1", statsBytes(t))
	bustest.WaitFor(t, 10*time.Second, "a retry", func() bool { return len(got.list()) >= 1 })
	if o := got.list()[0]; o.Decision.Action != bus.ActionNak || o.Decision.Class != bus.ClassRetryable {
		t.Errorf("settled %+v while the registry is down; want a retryable nak", o.Decision)
	}
	reg.mu.Lock()
	reg.down = false
	reg.mu.Unlock()
	bustest.WaitFor(t, 10*time.Second, "handled once the registry answers", func() bool { return calls.Load() == 1 })
	if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

func statsBytes(t testing.TB) []byte {
	t.Helper()
	b, err := bus.Marshal(&socialsyncv1.StatsRequested{LocationId: "loc1"})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
