package topology_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Every stream, bucket and object store the server holds has a size
// limit: its footprint's default, or the one TopologyOptions names.
func TestEveryStoreHasASizeLimit(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	opts := topology.Options{MaxBytes: map[string]int64{topology.StreamEvents: 77 << 20, "KV_" + topology.BucketTags: 33 << 20}}
	if err := topology.New(opts).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	snap := takeSnapshot(t, js)
	if len(snap.Streams) != len(topology.Footprints) {
		t.Errorf("the server holds %d streams, Footprints lists %d", len(snap.Streams), len(topology.Footprints))
	}
	for name, cfg := range snap.Streams {
		var want int64
		switch name {
		case topology.StreamEvents:
			want = 77 << 20
		case "KV_" + topology.BucketTags:
			want = 33 << 20
		default:
			f, ok := footprintOf(name)
			if !ok {
				t.Errorf("%s: no footprint", name)
				continue
			}
			want = f.MaxBytes(topology.DefaultLimitLocations)
		}
		if cfg.MaxBytes != want || want <= 0 {
			t.Errorf("%s: max bytes %d, want %d", name, cfg.MaxBytes, want)
		}
	}
	trig := snap.Streams[topology.StreamTriggers]
	if trig.Discard != jetstream.DiscardNew || !trig.DiscardNewPerSubject || trig.MaxMsgsPerSubject != topology.DefaultMaxTriggersPerSubject || trig.MaxAge != topology.TriggersMaxAge {
		t.Errorf("%s: discard %v, per subject %v, max per subject %d, max age %v; want discard new per subject, %d, 35 days",
			topology.StreamTriggers, trig.Discard, trig.DiscardNewPerSubject, trig.MaxMsgsPerSubject, trig.MaxAge, topology.DefaultMaxTriggersPerSubject)
	}
	if ev := snap.Streams[topology.StreamEvents]; ev.Discard != jetstream.DiscardNew || ev.MaxAge != 30*24*time.Hour {
		t.Errorf("%s: discard %v, max age %v; want discard new, 30 days", topology.StreamEvents, ev.Discard, ev.MaxAge)
	}
}

func footprintOf(name string) (topology.Footprint, bool) {
	for _, f := range topology.Footprints {
		if f.Name == name {
			return f, true
		}
	}
	return topology.Footprint{}, false
}

// One location at its quota of post triggers is refused; another is not,
// and the refused location is taken again once its backlog shrinks.
func TestTriggerQuotaPerLocation(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	const quota = 3
	if err := topology.New(topology.Options{MaxTriggersPerSubject: quota}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	post := func(loc string, i int) error {
		_, _, err := pub.PublishTo(ctx, topology.PostTriggers, &socialsyncv1.PostEvent{LocationId: loc, PostId: fmt.Sprintf("post%d", i),
			OccurredAt: timestamppb.New(time.Unix(1_700_000_000, 0)), EventId: fmt.Sprintf("%s-%d", loc, i)})
		return err
	}
	for i := range quota {
		if err := post("locA", i); err != nil {
			t.Fatalf("trigger %d of locA: %v", i, err)
		}
	}
	err := post("locA", quota)
	if !errors.Is(err, bus.ErrSubjectFull) || errors.Is(err, bus.ErrStreamFull) {
		t.Fatalf("trigger over locA's quota: %v, want ErrSubjectFull", err)
	}
	var fe *bus.FullError
	if !errors.As(err, &fe) || fe.Subject != "socialsync.trigger.post.locA" || !strings.Contains(err.Error(), "quota") {
		t.Errorf("error %q does not name the subject and its quota", err)
	}
	if c, _ := bus.Classify(err); c != bus.ClassRetryable {
		t.Errorf("class %v, want retryable", c)
	}
	for i := range quota {
		if err := post("locB", i); err != nil {
			t.Errorf("trigger %d of locB while locA is at its quota: %v", i, err)
		}
	}
	// A stats trigger of locA is another subject: it has its own quota.
	if _, _, err := pub.PublishTo(ctx, topology.StatsTriggers, &socialsyncv1.StatsRequested{LocationId: "locA"}); err != nil {
		t.Errorf("stats trigger of locA: %v", err)
	}
	if got := bustest.StreamMsgs(t, js, topology.StreamTriggers); got != 2*quota+1 {
		t.Errorf("triggers stored: %d, want %d (none deleted)", got, 2*quota+1)
	}

	// Every reader of post triggers acks one of locA's: there is room for
	// one more.
	for _, durable := range []string{topology.DurableFetcher, topology.DurableContactSync, topology.DurableEnricher} {
		ackOne(t, js, durable, "socialsync.trigger.post.locA")
	}
	bustest.WaitFor(t, 5*time.Second, "locA's acked trigger removed", func() bool { return bustest.StreamMsgs(t, js, topology.StreamTriggers) == 2*quota })
	if err := post("locA", quota); err != nil {
		t.Errorf("trigger of locA after its backlog shrank: %v", err)
	}
}

// ackOne acks the first message of subject that durable delivers, and
// naks the others it fetched for immediate redelivery.
func ackOne(t *testing.T, js jetstream.JetStream, durable, subject string) {
	t.Helper()
	ctx := bustest.Context(t)
	c, err := js.Consumer(ctx, topology.StreamTriggers, durable)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.Fetch(20, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	acked := false
	for m := range batch.Messages() {
		if !acked && m.Subject() == subject {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			acked = true
			continue
		}
		_ = m.Nak()
	}
	if !acked {
		t.Fatalf("%s delivered no message of %s", durable, subject)
	}
}

// A full stream refuses new messages with ErrStreamFull and keeps every
// message it holds.
func TestFullStreamRefusesNewKeepsOld(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	const limit = 4096
	opts := topology.Options{MaxMessageBytes: 1024, MaxBytes: map[string]int64{topology.StreamTriggers: limit, topology.StreamEvents: limit}}
	if err := topology.New(opts).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	for _, tc := range []struct {
		stream string
		send   func(i int) error
	}{
		{topology.StreamTriggers, func(i int) error {
			// A location each: no subject reaches its quota.
			_, _, err := pub.PublishTo(ctx, topology.StatsTriggers, &socialsyncv1.StatsRequested{LocationId: fmt.Sprintf("loc%d", i), RequestedBy: strings.Repeat("x", 200)})
			return err
		}},
		{topology.StreamEvents, func(i int) error {
			_, _, err := pub.PublishTo(ctx, topology.TagEvents, &socialsyncv1.TagChanged{LocationId: "loc1", TagId: fmt.Sprintf("tag%d", i), TagName: strings.Repeat("x", 200)})
			return err
		}},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			var stored uint64
			var err error
			for i := 0; i < 100; i++ {
				if err = tc.send(i); err != nil {
					break
				}
				stored++
			}
			if !errors.Is(err, bus.ErrStreamFull) || errors.Is(err, bus.ErrSubjectFull) {
				t.Fatalf("after %d messages: %v, want ErrStreamFull", stored, err)
			}
			if stored == 0 || stored >= 100 {
				t.Fatalf("stored %d messages before the stream was full", stored)
			}
			if got := bustest.StreamMsgs(t, js, tc.stream); got != stored {
				t.Errorf("%s holds %d messages, want the %d stored before it was full", tc.stream, got, stored)
			}
		})
	}
}

// A refresh replaces its location's pending one; a full refresh stream
// refuses a new location's instead of dropping another's.
func TestRefreshReplacedNotDropped(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	if err := topology.New(topology.Options{MaxMessageBytes: 1024, MaxBytes: map[string]int64{topology.StreamRefresh: 2048}}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	refresh := func(loc, post string) error {
		_, _, err := pub.PublishTo(ctx, topology.CatalogueRefreshes, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, Source: strings.Repeat("s", 40)})
		return err
	}
	for _, p := range []string{"p1", "p2", "p3"} {
		if err := refresh("loc1", p); err != nil {
			t.Fatalf("refresh %s of loc1: %v", p, err)
		}
	}
	if got := bustest.StreamMsgs(t, js, topology.StreamRefresh); got != 1 {
		t.Fatalf("refresh stream holds %d messages, want loc1's latest only", got)
	}
	var err error
	n := 2
	for ; n < 100; n++ {
		if err = refresh(fmt.Sprintf("loc%d", n), "p"); err != nil {
			break
		}
	}
	if !errors.Is(err, bus.ErrStreamFull) {
		t.Fatalf("refresh of loc%d: %v, want ErrStreamFull", n, err)
	}
	msgs := bustest.Messages(t, js, topology.StreamRefresh, "")
	if len(msgs) != n-1 || msgs[0].Subject != "socialsync.refresh.catalogue.loc1" {
		t.Errorf("the full stream holds %d refreshes starting with %v; want %d, loc1's first", len(msgs), msgs[0].Subject, n-1)
	}
	// loc1's pending refresh is still replaced while the stream is full.
	if err := refresh("loc1", "p4"); err != nil {
		t.Errorf("refresh replacing loc1's pending one while full: %v", err)
	}
}

// A topology declared before the limits (discard old, no MaxBytes, no
// quota) is updated in place, keeping its messages.
func TestEnsureAddsLimitsInPlace(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	old := topology.New(topology.Options{})
	for i := range old.Streams {
		s := &old.Streams[i]
		s.MaxBytes, s.MaxMsgsPerSubject, s.DiscardNewPerSubject = 0, 0, false
		s.Discard = jetstream.DiscardOld
		if s.Name == topology.StreamRefresh || s.Name == topology.StreamSchedules {
			s.MaxMsgsPerSubject = 1
		}
	}
	for i := range old.KeyValues {
		old.KeyValues[i].MaxBytes = 0
	}
	old.ObjectStores[0].MaxBytes = 0
	if err := old.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	if _, _, err := pub.PublishTo(ctx, topology.PostTriggers, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", EventId: "e1"}); err != nil {
		t.Fatal(err)
	}
	if err := topology.New(topology.Options{}).Ensure(ctx, js); err != nil {
		t.Fatalf("Ensure over the unbounded topology: %v", err)
	}
	s, err := js.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := info.Config; c.Discard != jetstream.DiscardNew || !c.DiscardNewPerSubject || c.MaxBytes <= 0 || info.State.Msgs != 1 {
		t.Errorf("after the upgrade: discard %v, per subject %v, max bytes %d, %d messages; want discard new per subject, a limit, 1 message",
			c.Discard, c.DiscardNewPerSubject, c.MaxBytes, info.State.Msgs)
	}
	kv, err := js.KeyValue(ctx, topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.MaxBytes <= 0 {
		t.Error("the tags bucket has no limit after the upgrade")
	}
}

// A scheduled statistics run that SOCIALSYNC_TRIGGERS refuses (its
// location's stats subject at its quota) is not lost: the server retries
// the source, and the run arrives once the location's backlog shrinks.
// Another location's scheduled run gets through meanwhile.
func TestScheduledRunRefusedIsRetried(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	if err := topology.New(topology.Options{MaxTriggersPerSubject: 1}).Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	if _, _, err := pub.PublishTo(ctx, topology.StatsTriggers, &socialsyncv1.StatsRequested{LocationId: "locA", RequestedBy: "api"}); err != nil {
		t.Fatal(err)
	}
	at := "@at " + time.Now().Add(time.Second).UTC().Format(time.RFC3339)
	for _, loc := range []string{"locA", "locB"} {
		holder, _ := topology.StatsSchedules.Subject(loc)
		target, _ := topology.ScheduledStats.Subject(loc)
		if _, err := pub.Schedule(ctx, bus.Schedule{Subject: holder, Target: target, Spec: at},
			&socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "schedule"}); err != nil {
			t.Fatal(err)
		}
	}
	trig, err := js.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	requestedBy := func(subject string) string {
		m, err := trig.GetLastMsgForSubject(ctx, subject)
		if err != nil {
			return ""
		}
		var r socialsyncv1.StatsRequested
		if err := bus.Unmarshal(m.Header, m.Data, &r); err != nil {
			t.Fatal(err)
		}
		return r.GetRequestedBy()
	}
	// Both runs fire; locA's, refused, holds the source, and locB's
	// behind it with it.
	schedules, err := js.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	bustest.WaitFor(t, 20*time.Second, "both runs fired", func() bool {
		_, errA := schedules.GetLastMsgForSubject(ctx, "socialsync.scheduled.stats.locA")
		_, errB := schedules.GetLastMsgForSubject(ctx, "socialsync.scheduled.stats.locB")
		return errA == nil && errB == nil
	})

	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if got := requestedBy("socialsync.trigger.stats.locA"); got != "api" {
			t.Fatalf("locA's stats subject holds a %q run, want its api run only (at quota)", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("while locA is at its quota, locB's scheduled run is stored: %v", requestedBy("socialsync.trigger.stats.locB") == "schedule")
	ackOne(t, js, topology.DurableStats, "socialsync.trigger.stats.locA")
	bustest.WaitFor(t, 30*time.Second, "locA's and locB's scheduled runs after locA's backlog shrank", func() bool {
		return requestedBy("socialsync.trigger.stats.locA") == "schedule" && requestedBy("socialsync.trigger.stats.locB") == "schedule"
	})

}

// docs/storage.md shows the footprint table the defaults come from.
func TestStorageDocShowsFootprints(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/storage.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := topology.FootprintTable(topology.DefaultLimitLocations); !strings.Contains(string(doc), want) {
		t.Errorf("docs/storage.md does not hold the current footprint table; want:\n%s", want)
	}
}

// A server whose storage cannot hold the limits refuses the topology, and
// the error says which settings to change.
func TestEnsureSaysWhenLimitsDoNotFit(t *testing.T) {
	t.Parallel()
	s, err := server.NewServer(&server.Options{Port: -1, JetStream: true, StoreDir: t.TempDir(), JetStreamMaxStore: 1 << 30, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	js := bustest.Connect(t, s)
	err = topology.New(topology.Options{}).Ensure(bustest.Context(t), js)
	if err == nil || !strings.Contains(err.Error(), "insufficient storage") || !strings.Contains(err.Error(), "SOCIALSYNC_LIMIT_FLEET_LOCATIONS") {
		t.Fatalf("Ensure on a 1 GiB server: %v; want the server's refusal naming the limit settings", err)
	}
	// Sized for fewer locations, the same topology fits.
	if err := topology.New(topology.Options{Locations: 10}).Ensure(bustest.Context(t), js); err != nil {
		t.Errorf("Ensure for 10 locations on a 1 GiB server: %v", err)
	}
}
