package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A post trigger deferred 50 times, and failing retryably twice on the
// way, is handled in the end and never dead-lettered: deferrals and
// failures within the horizon do not count toward any limit. The crash
// limit of 1 shows that not one of those settled deliveries was taken for
// a crash.
func TestDeferralsNeverCount(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	subject, _ := topology.PostTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}); err != nil {
		t.Fatal(err)
	}
	const deferrals = 50
	var calls atomic.Int32
	h := func(context.Context, jetstream.Msg) error {
		switch n := calls.Add(1); {
		case n == 10 || n == 30:
			return errors.New("connection reset by peer")
		case n <= deferrals+2:
			return bus.Defer(errors.New("location paced"), time.Millisecond)
		}
		return nil
	}
	var got outcomes
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{
		OnSettle: got.add, CrashLimit: 1, Backoff: bus.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	bustest.WaitFor(t, 20*time.Second, "the trigger acked", func() bool {
		l := got.list()
		return len(l) > 0 && l[len(l)-1].Decision.Action == bus.ActionAck
	})

	if n := calls.Load(); n != deferrals+3 {
		t.Errorf("handler called %d times, want %d", n, deferrals+3)
	}
	for _, o := range got.list() {
		if o.DeadLetter != "" || o.Decision.Action == bus.ActionTerm {
			t.Errorf("delivery %d settled as %+v", o.Attempt, o.Decision)
		}
	}
	if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// Fifteen retryable failures in a row, well within the horizon, are
// retried: the count of deliveries decides nothing.
func TestRetryableFailuresRetryUntilTheHorizon(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	subject, _ := topology.PostTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := func(context.Context, jetstream.Msg) error {
		if calls.Add(1) <= 15 {
			return errors.New("connection reset by peer")
		}
		return nil
	}
	var got outcomes
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{OnSettle: got.add,
		Backoff: bus.Backoff{Initial: time.Millisecond, Max: time.Millisecond}})
	bustest.WaitFor(t, 20*time.Second, "the trigger settled for good", func() bool {
		l := got.list()
		return len(l) > 0 && l[len(l)-1].Decision.Action != bus.ActionNak
	})

	l := got.list()
	if last := l[len(l)-1]; last.Decision.Action != bus.ActionAck || last.Attempt != 16 {
		t.Errorf("delivery %d settled as %+v, want delivery 16 acked", last.Attempt, last.Decision)
	}
}

// The backoff grows with the failures, not the deliveries: a message
// deferred ten times that then fails waits the backoff's first step, and
// its second failure the second.
func TestBackoffCountsFailuresNotDeferrals(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	subject, _ := topology.PostTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	h := func(context.Context, jetstream.Msg) error {
		switch n := calls.Add(1); {
		case n <= 10:
			return bus.Defer(errors.New("location paced"), time.Millisecond)
		case n <= 12:
			return errors.New("connection reset by peer")
		}
		return nil
	}
	var got outcomes
	const initial = 50 * time.Millisecond
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{
		OnSettle: got.add, Backoff: bus.Backoff{Initial: initial, Max: 10 * time.Second}})
	bustest.WaitFor(t, 20*time.Second, "the trigger acked", func() bool {
		l := got.list()
		return len(l) > 0 && l[len(l)-1].Decision.Action == bus.ActionAck
	})

	var delays []time.Duration
	for _, o := range got.list() {
		if o.Decision.Class != bus.ClassDeferred && o.Decision.Action == bus.ActionNak {
			delays = append(delays, o.Decision.Delay)
		}
	}
	// ±20% jitter around 50 ms and 100 ms.
	if len(delays) != 2 || delays[0] > initial*6/5 || delays[1] > 2*initial*6/5 || delays[1] < 2*initial*4/5 {
		t.Errorf("failure delays %v, want about %v then %v", delays, initial, 2*initial)
	}
}

// oneStatsTrigger starts a server whose stats durable redelivers after
// ackWait and publishes one statistics trigger to it; it returns the
// server, a connection and the durable's spec.
func oneStatsTrigger(t *testing.T, ackWait time.Duration) (*server.Server, jetstream.JetStream, bus.ConsumerSpec) {
	t.Helper()
	srv := bustest.StartServer(t)
	js := bustest.Connect(t, srv)
	ctx := bustest.Context(t)
	topo := topology.New(topology.Options{})
	for i, c := range topo.Consumers {
		if c.Stream == topology.StreamTriggers && c.Config.Durable == topology.DurableStats {
			topo.Consumers[i].Config.AckWait = ackWait
		}
	}
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.StatsTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: "loc1"}); err != nil {
		t.Fatal(err)
	}
	return srv, js, spec(t, topo, topology.StreamTriggers, topology.DurableStats)
}

// crashOnce runs a consumer of s on its own connection whose handler
// blocks, and kills the connection while the handler runs: the delivery
// ends without any settle, as when the process dies.
func crashOnce(t *testing.T, url string, s bus.ConsumerSpec, started chan<- uint64) {
	t.Helper()
	crashAfter(t, url, s, started, 0)
}

// crashAfter is crashOnce with the connection killed after the handler
// has run for d.
func crashAfter(t *testing.T, url string, s bus.ConsumerSpec, started chan<- uint64, d time.Duration) {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan uint64, 1)
	r := run(t, js, s, func(ctx context.Context, msg jetstream.Msg) error {
		meta, _ := msg.Metadata()
		running <- meta.NumDelivered
		<-ctx.Done()
		return ctx.Err()
	}, bus.ConsumerOptions{ShutdownTimeout: 20 * time.Millisecond})
	select {
	case n := <-running:
		started <- n
	case <-time.After(10 * time.Second):
		t.Fatal("the crashing handler never ran")
	}
	time.Sleep(d) // the handler runs that long before its process dies
	nc.Close()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the killed consumer did not stop")
	}
}

// Deliveries whose process died while the handler ran count toward the
// crash limit; deferred ones do not, nor does the first delivery, which
// records nothing. After the third crash seen the message is
// dead-lettered as crash_loop without running the handler again.
func TestCrashLoopDeadLettersWithoutRunningHandler(t *testing.T) {
	t.Parallel()
	srv, js, s := oneStatsTrigger(t, 300*time.Millisecond)
	started := make(chan uint64, 8)
	// Three crashes, the first unseen (a first delivery records nothing):
	// two, below the limit.
	crashOnce(t, srv.ClientURL(), s, started)
	crashOnce(t, srv.ClientURL(), s, started)
	crashOnce(t, srv.ClientURL(), s, started)
	// A healthy replica defers the message five times: settled deliveries,
	// which must not count, then the process dies once more.
	var deferred atomic.Int32
	deferring := run(t, js, s, func(context.Context, jetstream.Msg) error {
		deferred.Add(1)
		return bus.Defer(errors.New("busy"), time.Millisecond)
	}, bus.ConsumerOptions{})
	bustest.WaitFor(t, 10*time.Second, "five deferrals", func() bool { return deferred.Load() >= 5 })
	if err := deferring.stop(t, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	crashOnce(t, srv.ClientURL(), s, started)
	close(started)
	var crashed []uint64
	for n := range started {
		crashed = append(crashed, n)
	}
	if len(crashed) != 4 || crashed[0] != 1 || crashed[1] != 2 || crashed[2] != 3 || crashed[3] < 9 {
		t.Fatalf("crashed deliveries %v: want 1, 2, 3 and one after five deferrals", crashed)
	}

	var calls atomic.Int32
	var got outcomes
	run(t, js, s, func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return nil
	}, bus.ConsumerOptions{OnSettle: got.add})
	dls := deadLetters(t, js, 1)
	if dls[0].Class != "crash_loop" || !strings.Contains(dls[0].Reason, "3 of") {
		t.Errorf("dead letter class %q, reason %q; want crash_loop after 3 unsettled deliveries", dls[0].Class, dls[0].Reason)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times in a crash loop", n)
	}
}

// A process that dies after its handler ran for longer than the crash
// window was killed from outside, not by the message: four such deaths in
// a row are no crash loop, and the message is handled in the end.
func TestLateDeathsAreNoCrash(t *testing.T) {
	t.Parallel()
	srv, js, s := oneStatsTrigger(t, 300*time.Millisecond)
	started := make(chan uint64, 8)
	for range 4 {
		crashAfter(t, srv.ClientURL(), s, started, bus.CrashWindow+500*time.Millisecond)
	}
	var got outcomes
	run(t, js, s, func(context.Context, jetstream.Msg) error { return nil }, bus.ConsumerOptions{OnSettle: got.add})
	bustest.WaitFor(t, 10*time.Second, "the trigger settled", func() bool { return len(got.list()) > 0 })
	// Delivery 5 at the earliest: on a loaded machine the server may
	// redeliver once more, into a dying process's buffer or when a
	// progress report comes later than the 300 ms AckWait.
	if o := got.list()[0]; o.Decision.Action != bus.ActionAck || o.Attempt < 5 {
		t.Errorf("delivery %d settled as %+v, want delivery 5 or later acked", o.Attempt, o.Decision)
	}
	if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// Deliveries that never reached the handler (pulled into a process's
// buffer, which died before starting them) are no crashes, however many:
// the message is handled when a replica finally runs it.
func TestPulledButNotStartedIsNoCrash(t *testing.T) {
	t.Parallel()
	_, js, s := oneStatsTrigger(t, 200*time.Millisecond)
	ctx := bustest.Context(t)
	cons, err := js.Consumer(ctx, s.Stream, s.Config.Durable)
	if err != nil {
		t.Fatal(err)
	}
	// Five deliveries pulled and left to time out, as a killed process's
	// buffer leaves them.
	for i := range 5 {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range batch.Messages() {
			n++
		}
		if n != 1 {
			t.Fatalf("pull %d: %d messages, want 1 (%v)", i+1, n, batch.Error())
		}
	}
	var calls atomic.Int32
	var got outcomes
	run(t, js, s, func(context.Context, jetstream.Msg) error {
		calls.Add(1)
		return nil
	}, bus.ConsumerOptions{OnSettle: got.add})
	bustest.WaitFor(t, 10*time.Second, "the trigger settled", func() bool { return len(got.list()) > 0 })
	if o := got.list()[0]; o.Decision.Action != bus.ActionAck || o.Attempt != 6 {
		t.Errorf("delivery %d settled as %+v, want delivery 6 acked", o.Attempt, o.Decision)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler ran %d times, want 1", n)
	}
	if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
}

// Bad input on a subject several durables read leaves one dead letter,
// from the family's owner (contactsync for post triggers); the fetcher and
// the enricher ack it and count it.
func TestBadInputDeadLetteredOnceByItsOwner(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	tel, url := metricsServer(t)
	var handled [3]atomic.Int32
	var got outcomes
	durables := []string{topology.DurableFetcher, topology.DurableContactSync, topology.DurableEnricher}
	for i, d := range durables {
		run(t, js, spec(t, topo, topology.StreamTriggers, d), func(_ context.Context, msg jetstream.Msg) error {
			handled[i].Add(1)
			if string(msg.Data()) == "not a post" {
				return bus.ErrUndecodable
			}
			return nil
		}, bus.ConsumerOptions{OnSettle: got.add, MeterProvider: tel.MeterProvider()})
	}
	// One bad payload, one bad location (refused before any handler).
	publishRaw(t, js, "socialsync.trigger.post.loc1", []byte("not a post"))
	publishRaw(t, js, "socialsync.trigger.post.bad_loc", postBytes(t, &socialsyncv1.PostEvent{LocationId: "bad_loc", PostId: "p1"}))
	bustest.WaitFor(t, 10*time.Second, "six settlements", func() bool { return len(got.list()) >= 6 })
	dls := deadLetters(t, js, 2)
	for _, dl := range dls {
		if dl.Worker != topology.DurableContactSync || dl.Class != "bad_input" {
			t.Errorf("dead letter of %s, class %s; want contactsync's, bad_input", dl.Worker, dl.Class)
		}
	}
	for _, o := range got.list() {
		if o.Consumer == topology.DurableContactSync {
			continue
		}
		if o.Decision.Action != bus.ActionAck || o.Decision.Class != bus.ClassBadInput || o.DeadLetter != "" {
			t.Errorf("%s settled bad input as %+v", o.Consumer, o.Decision)
		}
	}
	// Acked by all three: interest retention drops both.
	bustest.WaitFor(t, 5*time.Second, "the triggers removed", func() bool { return bustest.StreamMsgs(t, js, topology.StreamTriggers) == 0 })
	page := telemetrytest.Scrape(t, url)
	for _, w := range []string{"fetcher", "enricher"} {
		if got := page.Sum("socialsync_bad_input_acked_total", "worker", w); got != 2 {
			t.Errorf("socialsync_bad_input_acked_total{worker=%q} = %v, want 2", w, got)
		}
	}
	if got := page.Sum("socialsync_bad_input_acked_total", "worker", "contactsync"); got != 0 {
		t.Errorf("contactsync counted %v bad messages as acked, want 0", got)
	}
}

// A replayed dead letter reaches only the durable that dead-lettered it,
// even right after the original was published (inside the duplicate
// window, under the original's Nats-Msg-Id), carries the original id,
// and can be replayed again when it fails again.
func TestReplayReachesOnlyItsDurable(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	type seen struct {
		msgID, original, item string
	}
	var fetcher, contactsync atomic.Int32
	var last atomic.Pointer[seen]
	var healthy atomic.Bool
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableFetcher), func(context.Context, jetstream.Msg) error {
		fetcher.Add(1)
		return nil
	}, bus.ConsumerOptions{})
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), func(ctx context.Context, msg jetstream.Msg) error {
		contactsync.Add(1)
		item, _ := bus.ReplayItem(msg.Headers())
		last.Store(&seen{msgID: msg.Headers().Get(bus.HeaderMsgID), original: bus.OriginalMsgID(msg.Headers()), item: item})
		if !healthy.Load() {
			return bus.Permanent(errors.New("contact gone"))
		}
		return nil
	}, bus.ConsumerOptions{})

	subject, _ := topology.PostTriggers.Subject("loc1")
	if _, err := bus.NewPublisher(js, bus.PublisherOptions{}).Publish(ctx, subject,
		&socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", EventId: "evt-1"}); err != nil {
		t.Fatal(err)
	}
	dl := deadLetters(t, js, 1)
	bustest.WaitFor(t, 5*time.Second, "the fetcher's ack", func() bool { return fetcher.Load() == 1 })
	list, _, err := bus.ListDeadLetters(ctx, js, bus.DeadLetterFilter("", ""), 0, 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if dl[0].MsgID != "evt-1" {
		t.Fatalf("dead letter msg id %q", dl[0].MsgID)
	}

	// Replay at once (well inside the 2-minute window): it fails again and
	// is dead-lettered again; replay that one too.
	r, err := bus.ReplayDeadLetter(ctx, js, list[0].Seq)
	if err != nil || r.Consumer != topology.DurableContactSync {
		t.Fatalf("first replay: %+v %v", r, err)
	}
	bustest.WaitFor(t, 5*time.Second, "the first replay handled", func() bool { return contactsync.Load() == 2 })
	bustest.WaitFor(t, 5*time.Second, "the second dead letter", func() bool {
		list, _, err = bus.ListDeadLetters(ctx, js, bus.DeadLetterFilter("", ""), 0, 10)
		return err == nil && len(list) == 1
	})

	healthy.Store(true)
	if _, err := bus.ReplayDeadLetter(ctx, js, list[0].Seq); err != nil {
		t.Fatalf("second replay: %v", err)
	}
	bustest.WaitFor(t, 5*time.Second, "the second replay handled", func() bool { return contactsync.Load() == 3 })
	s := last.Load()
	if s.original != "evt-1" || s.msgID == "evt-1" || s.msgID == "" || s.item != "" {
		t.Errorf("replay seen as %+v: want original evt-1 under a fresh Nats-Msg-Id, no item", s)
	}
	if n := bustest.StreamMsgs(t, js, bus.StreamDLQ); n != 0 {
		t.Errorf("%d dead letters left", n)
	}
	// Both replays were acked unhandled by the fetcher.
	fc, err := js.Consumer(ctx, topology.StreamTriggers, topology.DurableFetcher)
	if err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, 5*time.Second, "the fetcher's acks", func() bool {
		info, err := fc.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream == 3
	})

	if n := fetcher.Load(); n != 1 {
		t.Errorf("the fetcher handled the trigger %d times, want once", n)
	}
}

// Replaying an item's dead letter replays that item: the handler is told
// which one.
func TestReplayOfAnItem(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	var items []string
	done := make(chan struct{}, 4)
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), func(ctx context.Context, msg jetstream.Msg) error {
		defer func() { done <- struct{}{} }()
		if item, ok := bus.ReplayItem(msg.Headers()); ok {
			items = append(items, item)
			return nil
		}
		_, err := bus.DeadLetterItem(ctx, js, topology.DurableContactSync, msg, "contact c2", bus.ClassPermanent, "contact deleted")
		return err
	}, bus.ConsumerOptions{Concurrency: 1})
	publishRaw(t, js, "socialsync.trigger.post.loc1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}))
	dl := deadLetters(t, js, 1)
	if dl[0].Item != "contact c2" {
		t.Fatalf("item %q", dl[0].Item)
	}
	list, _, err := bus.ListDeadLetters(ctx, js, bus.DeadLetterFilter("", ""), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.ReplayDeadLetter(ctx, js, list[0].Seq); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the replay was not handled")
		}
	}
	if len(items) != 1 || items[0] != "contact c2" {
		t.Errorf("replayed items %v, want [contact c2]", items)
	}
}
