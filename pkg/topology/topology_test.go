package topology_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// snapshot is the server's view of everything a topology declares.
type snapshot struct {
	Streams   map[string]jetstream.StreamConfig
	Consumers map[string]jetstream.ConsumerConfig
}

func takeSnapshot(t *testing.T, js jetstream.JetStream) snapshot {
	t.Helper()
	ctx := context.Background()
	snap := snapshot{Streams: map[string]jetstream.StreamConfig{}, Consumers: map[string]jetstream.ConsumerConfig{}}
	names := js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		snap.Streams[name] = s.CachedInfo().Config
		cons := s.ListConsumers(ctx)
		for ci := range cons.Info() {
			snap.Consumers[name+"/"+ci.Name] = ci.Config
		}
		if err := cons.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return snap
}

func TestEnsureIsIdempotent(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	topo := topology.New(topology.Options{})

	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	first := takeSnapshot(t, js)
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	second := takeSnapshot(t, js)
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("second Ensure changed the topology (-first +second):\n%s", diff)
	}

	// Everything declared exists: 5 streams, 10 buckets, 1 object store.
	wantStreams := []string{
		topology.StreamTriggers, topology.StreamEvents, topology.StreamRefresh, topology.StreamSchedules, bus.StreamDLQ, topology.StreamAudit,
		"KV_" + topology.BucketTags, "KV_" + topology.BucketTagDetails, "KV_" + topology.BucketRelations,
		"KV_" + topology.BucketStatsHistory, "KV_" + topology.BucketSegments, "KV_" + topology.BucketWorkflows,
		"KV_" + topology.BucketLocations, "KV_" + topology.BucketTokens, "KV_" + topology.BucketRateBudget,
		"KV_" + topology.BucketWebhookEvents,
		"KV_" + topology.BucketSources,
		"OBJ_" + topology.ObjectStoreReports,
		"KV_" + topology.BucketSettings,
		"KV_" + topology.BucketWorkflowRuns,
		"KV_" + bus.BucketDeliveries,
		"KV_" + topology.BucketContactRefs,
		"KV_" + topology.BucketOAuthStates,
		"KV_" + bus.BucketSchema,
	}
	var gotStreams []string
	for name := range first.Streams {
		gotStreams = append(gotStreams, name)
	}
	if diff := cmp.Diff(wantStreams, gotStreams, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
	if got, want := len(first.Consumers), len(topo.Consumers); got != want {
		t.Errorf("got %d consumers, want %d: %v", got, want, first.Consumers)
	}

	// The declared properties the design depends on.
	trig := first.Streams[topology.StreamTriggers]
	if trig.Retention != jetstream.InterestPolicy || trig.Duplicates != 2*time.Minute {
		t.Errorf("%s: retention %v, duplicates %v; want interest, 2m", topology.StreamTriggers, trig.Retention, trig.Duplicates)
	}
	if ev := first.Streams[topology.StreamEvents]; ev.MaxAge != 30*24*time.Hour {
		t.Errorf("%s: max age %v, want 30 days", topology.StreamEvents, ev.MaxAge)
	}
	if dlq := first.Streams[bus.StreamDLQ]; dlq.MaxAge != 14*24*time.Hour {
		t.Errorf("%s: max age %v, want 14 days", bus.StreamDLQ, dlq.MaxAge)
	}
	if sch := first.Streams[topology.StreamSchedules]; !sch.AllowMsgSchedules {
		t.Errorf("%s: message schedules not allowed", topology.StreamSchedules)
	}
	if ref := first.Streams[topology.StreamRefresh]; ref.MaxMsgsPerSubject != 1 || ref.Discard != jetstream.DiscardNew || ref.DiscardNewPerSubject || ref.Retention != jetstream.WorkQueuePolicy {
		t.Errorf("%s: %+v; want work queue, 1 per subject (replaced), discard new", topology.StreamRefresh, ref)
	}
}

func TestEnsureUpdatesChangedConfig(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	if err := topology.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}

	topo := topology.New(topology.Options{})
	for i := range topo.Streams {
		if topo.Streams[i].Name == topology.StreamEvents {
			topo.Streams[i].MaxAge = 45 * 24 * time.Hour
		}
	}
	for i := range topo.Consumers {
		if c := &topo.Consumers[i]; c.Stream == topology.StreamTriggers && c.Config.Durable == topology.DurableContactSync {
			c.Config.MaxAckPending = 17
			c.Config.Description = "changed"
		}
	}
	for i := range topo.KeyValues {
		if topo.KeyValues[i].Bucket == topology.BucketTags {
			topo.KeyValues[i].History = 9
		}
	}
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatalf("Ensure with a changed topology: %v", err)
	}

	ev, err := js.Stream(ctx, topology.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.CachedInfo().Config.MaxAge; got != 45*24*time.Hour {
		t.Errorf("events max age = %v, want 45 days", got)
	}
	c, err := js.Consumer(ctx, topology.StreamTriggers, topology.DurableContactSync)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config; got.MaxAckPending != 17 || got.Description != "changed" {
		t.Errorf("consumer config = max ack pending %d, description %q; want 17, changed", got.MaxAckPending, got.Description)
	}
	kv, err := js.KeyValue(ctx, topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 9 {
		t.Errorf("tags history = %d, want 9", st.History())
	}
}

func TestEnsureReportsImpossibleChange(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	if err := topology.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	topo := topology.New(topology.Options{})
	topo.Streams[0].Storage = jetstream.MemoryStorage
	if err := topo.Ensure(ctx, js); err == nil {
		t.Error("Ensure changed a stream's storage without an error")
	}
}

func TestEnsureFromReplicasAtOnce(t *testing.T) {
	t.Parallel()
	s := bustest.StartServer(t)
	ctx := bustest.Context(t)
	const replicas = 3
	errs := make(chan error, replicas)
	for range replicas {
		js := bustest.Connect(t, s)
		go func() { errs <- topology.Ensure(ctx, js) }()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Ensure: %v", err)
		}
	}
}

// A post trigger is kept until every worker reading post triggers (the
// fetcher, contactsync and the enricher, whose durable also reads tag
// details requests) has acked it; a tag details request only waits for
// the enricher.
func TestPostTriggerKeptUntilEveryReaderAcks(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)

	enr, ok := topo.Consumer(topology.StreamTriggers, topology.DurableEnricher)
	if !ok {
		t.Fatal("no enricher durable on the triggers stream")
	}
	wantFilters := []string{topology.TagDetailsTriggers.Filter(), topology.PostTriggers.Filter()}
	if diff := cmp.Diff(wantFilters, enr.Config.FilterSubjects, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("enricher trigger filters (-want +got):\n%s", diff)
	}

	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	post, _ := topology.PostTriggers.Subject("loc1")
	details, _ := topology.TagDetailsTriggers.Subject("loc1")
	if _, err := pub.Publish(ctx, post, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", EventId: "post-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pub.Publish(ctx, details, &socialsyncv1.TagDetailsRequested{LocationId: "loc1", TagIds: []string{"t1"}, EventId: "details-1"}); err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	count := func(subject string) uint64 {
		t.Helper()
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Subjects[subject]
	}
	// ackAll acks the pending messages of durable, waiting up to 5s for
	// want of them (a loaded server may not have them ready at once, which
	// FetchNoWait would take for none), and returns their subjects.
	ackAll := func(durable string, want int) []string {
		t.Helper()
		c, err := js.Consumer(ctx, topology.StreamTriggers, durable)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := c.Fetch(want, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for m := range batch.Messages() {
			got = append(got, m.Subject())
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}

	if got := ackAll(topology.DurableEnricher, 2); len(got) != 2 {
		t.Fatalf("enricher got %v, want the post trigger and the details request", got)
	}
	if n := count(details); n != 0 {
		t.Errorf("details request still stored after the enricher acked it (%d)", n)
	}
	if n := count(post); n != 1 {
		t.Errorf("post trigger stored %d times after the enricher alone acked it, want 1", n)
	}
	if got := ackAll(topology.DurableFetcher, 1); len(got) != 1 {
		t.Fatalf("fetcher got %v, want the post trigger", got)
	}
	if n := count(post); n != 1 {
		t.Errorf("post trigger stored %d times before contactsync acked it, want 1", n)
	}
	if got := ackAll(topology.DurableContactSync, 1); len(got) != 1 {
		t.Fatalf("contactsync got %v, want the post trigger", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(post) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("post trigger still stored after every reader acked it")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Ensure on a topology the server already holds sends no update: every
// replica runs it at start, and concurrent updates of one stream are
// applied racily by the server. A changed limit is still applied.
func TestEnsureLeavesAnUnchangedTopologyAlone(t *testing.T) {
	t.Parallel()
	s := bustest.StartServer(t)
	js := bustest.Connect(t, s)
	ctx := bustest.Context(t)
	topo := topology.New(topology.Options{})
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	updates := make(chan string, 64)
	sub, err := js.Conn().Subscribe("$JS.EVENT.ADVISORY.STREAM.UPDATED.>", func(m *nats.Msg) { updates <- m.Subject })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	changed := topology.New(topology.Options{})
	changed.Streams[0].MaxBytes /= 2
	if err := changed.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	if err := js.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	want := "$JS.EVENT.ADVISORY.STREAM.UPDATED." + changed.Streams[0].Name
	select {
	case got := <-updates:
		if got != want {
			t.Errorf("update advisory %s, want only %s", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no update advisory for the changed stream %s", changed.Streams[0].Name)
	}
	select {
	case got := <-updates:
		t.Errorf("another update: %s", got)
	case <-time.After(500 * time.Millisecond):
	}
	info, err := js.Stream(ctx, changed.Streams[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.CachedInfo().Config.MaxBytes; got != changed.Streams[0].MaxBytes {
		t.Errorf("max bytes %d after the change, want %d", got, changed.Streams[0].MaxBytes)
	}
}

// Verify names everything of the topology the server lacks, and nothing
// once Apply has run; Apply says what it created, then that nothing
// changed, then what a new limit updated.
func TestApplyReportsAndVerifyNamesWhatIsMissing(t *testing.T) {
	t.Parallel()
	js := bustest.Connect(t, bustest.StartServer(t))
	ctx := bustest.Context(t)
	topo := topology.New(topology.Options{})
	total := len(topo.Streams) + len(topo.Consumers) + len(topo.KeyValues) + len(topo.ObjectStores)

	var missing *bus.MissingError
	if err := topo.Verify(ctx, js); !errors.As(err, &missing) || len(missing.Missing) != total {
		t.Fatalf("Verify of an empty server: %v, want a MissingError naming all %d", err, total)
	}
	for _, want := range []string{"stream SOCIALSYNC_TRIGGERS", "consumer stats on SOCIALSYNC_TRIGGERS", "key-value bucket socialsync_tokens", "object store socialsync_reports"} {
		if !slices.Contains(missing.Missing, want) {
			t.Errorf("Verify does not name %q: %v", want, missing.Missing)
		}
	}
	actions := func(done []bus.Applied) map[string]int {
		n := map[string]int{}
		for _, a := range done {
			n[a.Action]++
		}
		return n
	}
	done, err := topo.Apply(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(done); got["created"] != total || len(done) != total {
		t.Errorf("first Apply: %v, want all %d created", got, total)
	}
	if err := topo.Verify(ctx, js); err != nil {
		t.Errorf("Verify after Apply: %v", err)
	}
	if done, err = topo.Apply(ctx, js); err != nil || actions(done)["unchanged"] != total {
		t.Errorf("second Apply: %v %v, want all %d unchanged", actions(done), err, total)
	}
	bigger := topology.New(topology.Options{MaxBytes: map[string]int64{topology.StreamEvents: 64 << 20}})
	done, err = bigger.Apply(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(done, bus.Applied{What: "stream SOCIALSYNC_EVENTS", Action: "updated"}) || actions(done)["updated"] != 1 {
		t.Errorf("Apply with a new events limit: %v, want SOCIALSYNC_EVENTS alone updated", done)
	}
}
