package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Dead letters left by a real consumer are listed page by page, inspected,
// and replayed to the consumer, which then handles them; a truncated one
// stays.
func TestListInspectReplayDeadLetters(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	var healthy atomic.Bool
	var handled atomic.Int32
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), func(_ context.Context, msg jetstream.Msg) error {
		if !healthy.Load() {
			return bus.Permanent(errors.New("contact gone"))
		}
		handled.Add(1)
		return nil
	}, bus.ConsumerOptions{})
	for _, m := range []*socialsyncv1.PostEvent{
		{LocationId: "loc1", PostId: "p1"}, {LocationId: "loc2", PostId: "p2"}, {LocationId: "loc1", PostId: "p3"},
	} {
		publishRaw(t, js, "socialsync.trigger.post."+m.LocationId, postBytes(t, m))
	}
	deadLetters(t, js, 3)
	size := int(js.Conn().MaxPayload()) - 200
	publishRaw(t, js, "socialsync.trigger.post.loc1", []byte(strings.Repeat("\xff", size)))
	deadLetters(t, js, 4)

	filter := bus.DeadLetterFilter("", "loc1")
	_, total, err := bus.CountDeadLetters(ctx, js, filter)
	if err != nil || total != 3 {
		t.Fatalf("count of loc1: %d, %v", total, err)
	}
	page, more, err := bus.ListDeadLetters(ctx, js, filter, 0, 2)
	if err != nil || len(page) != 2 || !more || page[0].Reason != "contact gone" || page[0].Location != "loc1" {
		t.Fatalf("first page: %+v more=%v err=%v", page, more, err)
	}
	rest, more, err := bus.ListDeadLetters(ctx, js, filter, page[1].Seq, 2)
	if err != nil || len(rest) != 1 || more || !rest[0].Truncated {
		t.Fatalf("second page: %+v more=%v err=%v", rest, more, err)
	}
	got, err := bus.InspectDeadLetter(ctx, js, page[0].Seq)
	if err != nil || got.OriginalSubject != "socialsync.trigger.post.loc1" || len(got.Data) == 0 {
		t.Fatalf("inspect: %+v %v", got, err)
	}
	if _, err := bus.InspectDeadLetter(ctx, js, 9999); !errors.Is(err, bus.ErrNoDeadLetter) {
		t.Errorf("inspect of nothing: %v", err)
	}

	healthy.Store(true)
	r, err := bus.ReplayDeadLetter(ctx, js, page[0].Seq)
	if err != nil || r.Subject != "socialsync.trigger.post.loc1" || r.Consumer != topology.DurableContactSync {
		t.Fatalf("replay: %+v %v", r, err)
	}
	if _, err := bus.ReplayDeadLetter(ctx, js, rest[0].Seq); !errors.Is(err, bus.ErrNotReplayable) {
		t.Errorf("replay of a truncated dead letter: %v", err)
	}
	done, failed, err := bus.ReplayDeadLetters(ctx, js, filter)
	if err != nil || len(done) != 1 || done[0].Seq != page[1].Seq || len(failed) != 1 || failed[0].Seq != rest[0].Seq {
		t.Fatalf("replay all of loc1: %+v %+v %v", done, failed, err)
	}
	bustest.WaitFor(t, 10*time.Second, "the replayed messages handled", func() bool { return handled.Load() == 2 })
	if _, total, _ := bus.CountDeadLetters(ctx, js, bus.DeadLetterFilter("", "")); total != 2 {
		t.Errorf("dead letters left: %d, want loc2's and the truncated one", total)
	}
}
