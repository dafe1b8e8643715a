package bus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// postBytes encodes a PostEvent.
func postBytes(t testing.TB, ev *socialsyncv1.PostEvent) []byte {
	t.Helper()
	b, err := bus.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConsumerDeadLettersBadInput(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	var handled sync.Map
	h := bus.Typed(func(ctx context.Context, ev *socialsyncv1.PostEvent) error {
		handled.Store(ev.PostId, true)
		return nil
	})
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{MaxMessageBytes: 512})

	garbage := []byte{0xff, 0xff, 0xff, 0xff}
	oversized := postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: strings.Repeat("p", 600)})
	valid := postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "after-bad-loc"})
	mismatch := []byte(`{"locationId":"loc2","postId":"p"}`)
	type bad struct {
		subject string
		data    []byte
		header  []string
		reason  string
		dlqLoc  string
	}
	bads := []bad{
		{"socialsync.trigger.post.loc1", garbage, nil, "undecodable", "loc1"},
		{"socialsync.trigger.post.loc1", oversized, nil, "too large", "loc1"},
		{"socialsync.trigger.post.bad-loc", valid, nil, "invalid location", "_invalid"},
		{"socialsync.trigger.post.loc1", mismatch, []string{"Content-Type", "application/json"}, "does not match", "loc1"},
		{"socialsync.trigger.post.loc1", valid, []string{"Content-Type", "text/csv"}, "unsupported content type", "loc1"},
	}
	seqs := map[uint64]bad{}
	for _, b := range bads {
		ack := publishRaw(t, js, b.subject, b.data, b.header...)
		seqs[ack.Sequence] = b
	}
	// Valid messages after the bad ones, in both encodings, are handled.
	publishRaw(t, js, "socialsync.trigger.post.loc1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "pb"}))
	publishRaw(t, js, "socialsync.trigger.post.loc1", []byte(`{"locationId":"loc1","postId":"json"}`), "Content-Type", "application/json")
	bustest.WaitFor(t, 10*time.Second, "valid messages handled", func() bool {
		_, a := handled.Load("pb")
		_, b := handled.Load("json")
		return a && b
	})

	for _, dl := range deadLetters(t, js, len(bads)) {
		b, ok := seqs[dl.Sequence]
		if !ok {
			t.Errorf("dead letter for unexpected sequence %d", dl.Sequence)
			continue
		}
		want := bus.DeadLetter{
			Subject:         bus.DeadLetterPrefix + ".contactsync." + b.dlqLoc,
			Worker:          "contactsync",
			Location:        b.dlqLoc,
			Class:           "bad_input",
			OriginalSubject: b.subject,
			Stream:          topology.StreamTriggers,
			Sequence:        dl.Sequence,
			Consumer:        topology.DurableContactSync,
			Deliveries:      1,
			Data:            b.data,
		}
		if diff := cmp.Diff(want, dl, cmpopts.IgnoreFields(bus.DeadLetter{}, "Reason", "Time", "Header")); diff != "" {
			t.Errorf("dead letter of %s (-want +got):\n%s", b.reason, diff)
		}
		if !strings.Contains(dl.Reason, b.reason) {
			t.Errorf("dead letter reason %q does not mention %q", dl.Reason, b.reason)
		}
	}
}

func TestConsumerSettlesHandlerErrors(t *testing.T) {
	t.Parallel()
	transient := errors.New("connection reset by peer")
	tests := []struct {
		name string
		// horizon is the retry horizon; from the lateFrom-th delivery on,
		// the consumer's clock says the message is that old.
		horizon  time.Duration
		lateFrom uint64
		// fail returns the handler's error on the attempt-th delivery.
		fail        func(attempt uint64) error
		wantActions []bus.Action
		wantClass   bus.Class // of the dead letter, if one is expected
		wantReason  string
		minGap      time.Duration // between the first and second delivery
	}{
		{
			name:        "nil is acked",
			fail:        func(uint64) error { return nil },
			wantActions: []bus.Action{bus.ActionAck},
		},
		{
			name: "transient is redelivered",
			fail: func(a uint64) error {
				if a == 1 {
					return transient
				}
				return nil
			},
			wantActions: []bus.Action{bus.ActionNak, bus.ActionAck},
			minGap:      40 * time.Millisecond,
		},
		{
			name: "retry-after is honoured",
			fail: func(a uint64) error {
				if a == 1 {
					return bus.RetryAfter(transient, 700*time.Millisecond)
				}
				return nil
			},
			wantActions: []bus.Action{bus.ActionNak, bus.ActionAck},
			minGap:      700 * time.Millisecond,
		},
		{
			name: "ghl 429 retry-after is honoured",
			fail: func(a uint64) error {
				if a == 1 {
					return fmt.Errorf("list tags: %w", &ghl.Error{Method: "GET", Path: "/social-media-posting/{locationId}/tags", StatusCode: 429, Kind: ghl.KindRateLimited, RetryAfter: 600 * time.Millisecond})
				}
				return nil
			},
			wantActions: []bus.Action{bus.ActionNak, bus.ActionAck},
			minGap:      600 * time.Millisecond,
		},
		{
			name:        "permanent is dead-lettered",
			fail:        func(uint64) error { return bus.Permanent(errors.New("post p1 not found")) },
			wantActions: []bus.Action{bus.ActionTerm},
			wantClass:   bus.ClassPermanent,
			wantReason:  "post p1 not found",
		},
		{
			name: "ghl 401 waits for re-authorisation",
			fail: func(uint64) error {
				return &ghl.Error{Method: "GET", Path: "/social-media-posting/{locationId}/tags", StatusCode: 401, Kind: ghl.KindAuth}
			},
			wantActions: []bus.Action{bus.ActionNak},
		},
		{
			name:        "panic is dead-lettered",
			fail:        func(uint64) error { panic("nil map") },
			wantActions: []bus.Action{bus.ActionTerm},
			wantClass:   bus.ClassPanic,
			wantReason:  "handler panicked: nil map",
		},
		{
			name:        "retryable past the horizon ends in a dead letter",
			horizon:     time.Hour,
			lateFrom:    4,
			fail:        func(uint64) error { return transient },
			wantActions: []bus.Action{bus.ActionNak, bus.ActionNak, bus.ActionNak, bus.ActionTerm},
			wantClass:   bus.ClassRetryHorizon,
			wantReason:  "past the retry horizon of 1h0m0s: connection reset by peer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js, topo := bustest.Setup(t)
			var (
				got      outcomes
				mu       sync.Mutex
				delivery []time.Time
				late     atomic.Bool
			)
			h := func(ctx context.Context, msg jetstream.Msg) error {
				meta, err := msg.Metadata()
				if err != nil {
					return err
				}
				mu.Lock()
				delivery = append(delivery, time.Now())
				mu.Unlock()
				late.Store(tt.lateFrom > 0 && meta.NumDelivered >= tt.lateFrom)
				return tt.fail(meta.NumDelivered)
			}
			now := func() time.Time {
				if late.Load() {
					return time.Now().Add(tt.horizon)
				}
				return time.Now()
			}
			s := spec(t, topo, topology.StreamTriggers, topology.DurableContactSync)
			run(t, js, s, h, bus.ConsumerOptions{Backoff: bus.Backoff{Initial: 50 * time.Millisecond}, OnSettle: got.add,
				RetryHorizon: tt.horizon, Now: now})

			pub := bus.NewPublisher(js, bus.PublisherOptions{})
			subject, _ := topology.PostTriggers.Subject("loc1")
			ev := &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", EventId: "evt-1"}
			ack, err := pub.Publish(bustest.Context(t), subject, ev)
			if err != nil {
				t.Fatal(err)
			}
			bustest.WaitFor(t, 10*time.Second, "settlements", func() bool { return len(got.list()) >= len(tt.wantActions) })

			var actions []bus.Action
			for i, o := range got.list() {
				actions = append(actions, o.Decision.Action)
				if o.Attempt != uint64(i+1) || o.Seq != ack.Sequence || o.Location != "loc1" {
					t.Errorf("outcome %d: attempt %d, seq %d, location %q; want %d, %d, loc1", i, o.Attempt, o.Seq, o.Location, i+1, ack.Sequence)
				}
				if o.SettleErr != nil {
					t.Errorf("outcome %d: settle error %v", i, o.SettleErr)
				}
			}
			if diff := cmp.Diff(tt.wantActions, actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if tt.minGap > 0 {
				mu.Lock()
				gap := delivery[1].Sub(delivery[0])
				mu.Unlock()
				if gap < tt.minGap {
					t.Errorf("redelivered after %v, want at least %v", gap, tt.minGap)
				}
			}

			if tt.wantClass == bus.ClassNone {
				if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
					t.Errorf("%d dead letters, want none", n)
				}
				return
			}
			dls := deadLetters(t, js, 1)
			want := bus.DeadLetter{
				Subject:         "socialsync.dlq.contactsync.loc1",
				Worker:          "contactsync",
				Location:        "loc1",
				Reason:          tt.wantReason,
				Class:           tt.wantClass.String(),
				OriginalSubject: subject,
				Stream:          topology.StreamTriggers,
				Sequence:        ack.Sequence,
				Consumer:        topology.DurableContactSync,
				Deliveries:      uint64(len(tt.wantActions)),
				MsgID:           "evt-1",
				Data:            postBytes(t, ev),
			}
			if diff := cmp.Diff(want, dls[0], cmpopts.IgnoreFields(bus.DeadLetter{}, "Reason", "Time", "Header")); diff != "" {
				t.Errorf("dead letter (-want +got):\n%s", diff)
			}
			if !strings.Contains(dls[0].Reason, tt.wantReason) {
				t.Errorf("reason %q does not contain %q", dls[0].Reason, tt.wantReason)
			}
			if ct := dls[0].Header.Get("Content-Type"); ct != bus.ContentTypeProtobuf {
				t.Errorf("dead letter lost the original Content-Type: %q", ct)
			}
			// Terminated: the durable has nothing left to deliver or ack.
			c, err := js.Consumer(bustest.Context(t), topology.StreamTriggers, topology.DurableContactSync)
			if err != nil {
				t.Fatal(err)
			}
			bustest.WaitFor(t, 5*time.Second, "message terminated", func() bool {
				info, err := c.Info(context.Background())
				return err == nil && info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
			})

		})
	}
}

func TestReplicasShareDurable(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	const n = 40
	var (
		mu     sync.Mutex
		seen   = map[string]int{}
		byRepl [2]int
	)
	handler := func(replica int) bus.Handler {
		return bus.Typed(func(ctx context.Context, ev *socialsyncv1.TagDetailsRequested) error {
			time.Sleep(5 * time.Millisecond) // a handler takes time
			mu.Lock()
			defer mu.Unlock()
			seen[ev.EventId]++
			byRepl[replica]++
			return nil
		})
	}
	s := spec(t, topo, topology.StreamTriggers, topology.DurableEnricher)
	run(t, js, s, handler(0), bus.ConsumerOptions{Concurrency: 1})
	run(t, js, s, handler(1), bus.ConsumerOptions{Concurrency: 1})

	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	subject, _ := topology.TagDetailsTriggers.Subject("loc1")
	for i := range n {
		if _, err := pub.Publish(ctx, subject, &socialsyncv1.TagDetailsRequested{LocationId: "loc1", TagIds: []string{"t"}, EventId: fmt.Sprint("e", i)}); err != nil {
			t.Fatal(err)
		}
	}
	bustest.WaitFor(t, 15*time.Second, "all messages handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})

	// Give a duplicate delivery, were there one, the time to show.
	c, _ := js.Consumer(ctx, topology.StreamTriggers, topology.DurableEnricher)
	bustest.WaitFor(t, 5*time.Second, "all acked", func() bool {
		info, err := c.Info(ctx)
		return err == nil && info.NumAckPending == 0 && info.AckFloor.Stream == n
	})

	mu.Lock()
	defer mu.Unlock()
	for id, k := range seen {
		if k != 1 {
			t.Errorf("message %s handled %d times", id, k)
		}
	}
	if byRepl[0] == 0 || byRepl[1] == 0 {
		t.Errorf("work split %v: one replica did nothing", byRepl)
	}
}

func TestInterestRetentionKeepsTriggerUntilAllAck(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	subject, _ := topology.PostTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}); err != nil {
		t.Fatal(err)
	}
	if n := bustest.StreamMsgs(t, js, topology.StreamTriggers); n != 1 {
		t.Fatalf("triggers stream holds %d messages, want 1", n)
	}
	ok := func(context.Context, jetstream.Msg) error { return nil }

	var fetched outcomes
	fetcher := run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableFetcher), ok, bus.ConsumerOptions{OnSettle: fetched.add})
	bustest.WaitFor(t, 10*time.Second, "fetcher ack", func() bool { return len(fetched.list()) == 1 })
	if err := fetcher.stop(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := bustest.StreamMsgs(t, js, topology.StreamTriggers); n != 1 {
		t.Fatalf("after the fetcher's ack the stream holds %d messages, want 1 (contactsync has not acked)", n)
	}

	var synced outcomes
	contactsync := run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), ok, bus.ConsumerOptions{OnSettle: synced.add})
	bustest.WaitFor(t, 10*time.Second, "contactsync ack", func() bool { return len(synced.list()) == 1 })
	if err := contactsync.stop(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if n := bustest.StreamMsgs(t, js, topology.StreamTriggers); n != 1 {
		t.Fatalf("after two of three acks the stream holds %d messages, want 1 (the enricher has not acked)", n)
	}
	// The enricher reads post triggers too, for the post ↔ tag relations.
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableEnricher), ok, bus.ConsumerOptions{})
	bustest.WaitFor(t, 10*time.Second, "trigger removed after every reader's ack", func() bool { return bustest.StreamMsgs(t, js, topology.StreamTriggers) == 0 })
}

func TestCatalogueRefreshesCoalesce(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	// A burst of refreshes while no fetcher runs: 20 for loc1, 3 for loc2.
	for i := range 20 {
		subject, _ := topology.CatalogueRefreshes.Subject("loc1")
		if _, err := pub.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: fmt.Sprint("p", i), EventId: fmt.Sprint("e", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		subject, _ := topology.CatalogueRefreshes.Subject("loc2")
		if _, err := pub.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc2", PostId: fmt.Sprint("q", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := bustest.StreamMsgs(t, js, topology.StreamRefresh); n != 2 {
		t.Fatalf("refresh stream holds %d messages, want 2 (one per location)", n)
	}

	var (
		mu      sync.Mutex
		fetches []string
	)
	var got outcomes
	run(t, js, spec(t, topo, topology.StreamRefresh, topology.DurableFetcher), bus.Typed(func(ctx context.Context, ev *socialsyncv1.PostEvent) error {
		mu.Lock()
		defer mu.Unlock()
		fetches = append(fetches, ev.LocationId+"/"+ev.PostId)
		return nil
	}), bus.ConsumerOptions{OnSettle: got.add})
	bustest.WaitFor(t, 10*time.Second, "refreshes handled", func() bool { return len(got.list()) == 2 })
	bustest.WaitFor(t, 5*time.Second, "work queue emptied", func() bool { return bustest.StreamMsgs(t, js, topology.StreamRefresh) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"loc1/p19", "loc2/q2"}, fetches, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("fetches (-want +got):\n%s", diff)
	}
}

func TestScheduledStatsReachStatsTriggers(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	pub := bus.NewPublisher(js, bus.PublisherOptions{})

	got := make(chan string, 10)
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableStats), func(ctx context.Context, msg jetstream.Msg) error {
		var req socialsyncv1.StatsRequested
		loc, err := bus.Decode(msg, &req)
		if err != nil {
			return err
		}
		got <- msg.Subject() + " " + loc + " " + req.RequestedBy
		return nil
	}, bus.ConsumerOptions{})

	holder, _ := topology.StatsSchedules.Subject("loc1")
	target, _ := topology.ScheduledStats.Subject("loc1")
	if _, err := pub.Schedule(ctx, bus.Schedule{Subject: holder, Target: target, Spec: "@every 1s"},
		&socialsyncv1.StatsRequested{LocationId: "loc1", RequestedBy: "schedule"}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "socialsync.trigger.stats.loc1 loc1 schedule" {
			t.Errorf("stats worker got %q", s)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no scheduled statistics run reached the stats durable")
	}

	if err := pub.Unschedule(ctx, holder); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, topology.StreamSchedules)
	if _, err := s.GetLastMsgForSubject(ctx, holder); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("schedule still stored after Unschedule: %v", err)
	}

	// A cron schedule in a location's time zone is accepted too.
	if _, err := pub.Schedule(ctx, bus.Schedule{Subject: holder, Target: target, Spec: "0 30 6 * * *", TimeZone: "America/New_York"},
		&socialsyncv1.StatsRequested{LocationId: "loc1"}); err != nil {
		t.Errorf("cron schedule with time zone: %v", err)
	}
	// A schedule may not fire into another location.
	other, _ := topology.ScheduledStats.Subject("loc2")
	if _, err := pub.Schedule(ctx, bus.Schedule{Subject: holder, Target: other, Spec: "@daily"}, &socialsyncv1.StatsRequested{LocationId: "loc1"}); !errors.Is(err, bus.ErrLocationMismatch) {
		t.Errorf("schedule across locations: %v, want ErrLocationMismatch", err)
	}
}

func TestShutdownLetsInFlightHandlerFinish(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	started := make(chan struct{})
	var got outcomes
	r := run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableStats), func(ctx context.Context, msg jetstream.Msg) error {
		close(started)
		time.Sleep(300 * time.Millisecond) // finishing its work, context or not
		return nil
	}, bus.ConsumerOptions{ShutdownTimeout: 5 * time.Second, OnSettle: got.add})
	subject, _ := topology.StatsTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(bustest.Context(t), subject, &socialsyncv1.StatsRequested{LocationId: "loc1"}); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := r.stop(t, 5*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	outs := got.list()
	if len(outs) != 1 || outs[0].Decision.Action != bus.ActionAck || outs[0].SettleErr != nil {
		t.Fatalf("outcomes %+v, want one successful ack", outs)
	}
	c, _ := js.Consumer(bustest.Context(t), topology.StreamTriggers, topology.DurableStats)
	info, err := c.Info(bustest.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.AckFloor.Stream != 1 {
		t.Errorf("after shutdown: %d pending acks, ack floor %d; want 0, 1", info.NumAckPending, info.AckFloor.Stream)
	}
}

func TestShutdownNaksWhatDoesNotFinish(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan struct{}, 10)
	stuck := func(ctx context.Context, msg jetstream.Msg) error {
		started <- struct{}{}
		<-release // ignores its context
		return nil
	}
	s := spec(t, topo, topology.StreamTriggers, topology.DurableEnricher)
	// With 4 handlers busy, the consumer has pulled more messages ahead.
	r := run(t, js, s, stuck, bus.ConsumerOptions{Concurrency: 4, ShutdownTimeout: 200 * time.Millisecond})

	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	subject, _ := topology.TagDetailsTriggers.Subject("loc1")
	const n = 10
	for i := range n {
		if _, err := pub.Publish(ctx, subject, &socialsyncv1.TagDetailsRequested{LocationId: "loc1", EventId: fmt.Sprint("e", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		<-started
	}
	// Let the consumer pull ahead, then stop it: the bound is
	// ShutdownTimeout plus a second; allow for a slow machine.
	time.Sleep(50 * time.Millisecond)
	if err := r.stop(t, 5*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// The stuck message and those pulled but not started were nakked: a new
	// replica gets them long before AckWait (30s) would have expired.
	var (
		mu       sync.Mutex
		attempts = map[string]uint64{}
	)
	run(t, js, s, func(ctx context.Context, msg jetstream.Msg) error {
		var req socialsyncv1.TagDetailsRequested
		if _, err := bus.Decode(msg, &req); err != nil {
			return err
		}
		meta, _ := msg.Metadata()
		mu.Lock()
		defer mu.Unlock()
		attempts[req.EventId] = meta.NumDelivered
		return nil
	}, bus.ConsumerOptions{})
	bustest.WaitFor(t, 10*time.Second, "nakked messages redelivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(attempts) == n
	})

	mu.Lock()
	defer mu.Unlock()
	for i := range 4 {
		if id := fmt.Sprint("e", i); attempts[id] != 2 {
			t.Errorf("stuck message %s was delivered %d times, want 2", id, attempts[id])
		}
	}
}

func TestSlowHandlerKeepsItsMessage(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	// An AckWait far shorter than the handler: without InProgress the
	// server would redeliver to the other replica mid-work.
	s := spec(t, topo, topology.StreamTriggers, topology.DurableEnricher, func(s *bus.ConsumerSpec) { s.Config.AckWait = 300 * time.Millisecond })
	if _, err := js.CreateOrUpdateConsumer(ctx, s.Stream, s.Config); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	var got outcomes
	slow := func(ctx context.Context, msg jetstream.Msg) error {
		calls.Add(1)
		time.Sleep(time.Second)
		return nil
	}
	run(t, js, s, slow, bus.ConsumerOptions{OnSettle: got.add})
	run(t, js, s, slow, bus.ConsumerOptions{OnSettle: got.add})
	subject, _ := topology.TagDetailsTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.TagDetailsRequested{LocationId: "loc1"}); err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, 10*time.Second, "ack", func() bool { return len(got.list()) == 1 })
	outs := got.list()
	if n := calls.Load(); n != 1 || outs[0].Attempt != 1 || outs[0].Decision.Action != bus.ActionAck || outs[0].SettleErr != nil {
		t.Errorf("%d handler calls, outcome %+v; want one call, acked on the first delivery", n, outs[0])
	}
}
