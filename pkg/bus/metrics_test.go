package bus_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// metricsServer sets telemetry up and serves its /metrics over HTTP.
func metricsServer(t testing.TB) (*telemetry.Telemetry, string) {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "fetcher"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	srv := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(srv.Close)
	return tel, srv.URL + "/metrics"
}

func TestConsumerMetrics(t *testing.T) {
	js, topo := bustest.Setup(t)
	tel, url := metricsServer(t)

	var mu sync.Mutex
	seen := map[string]int{}
	h := func(ctx context.Context, msg jetstream.Msg) error {
		mu.Lock()
		seen[string(msg.Data())]++
		n := seen[string(msg.Data())]
		mu.Unlock()
		switch string(msg.Data()) {
		case "retry":
			if n == 1 {
				return errors.New("flaky")
			}
		case "defer":
			if n == 1 {
				return bus.Defer(errors.New("paced"), 10*time.Millisecond)
			}
		case "item":
			if _, err := bus.DeadLetterItem(ctx, js, topology.DurableFetcher, msg, "contact c1", bus.ClassPermanent, "contact deleted"); err != nil {
				return err
			}
		}
		return nil
	}
	out := &outcomes{}
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableFetcher), h, bus.ConsumerOptions{
		MeterProvider: tel.MeterProvider(),
		Backoff:       bus.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond},
		OnSettle:      out.add,
	})
	for _, m := range []struct{ loc, data string }{
		{"locA1", "ok"}, {"locB2", "retry"}, {"locC3", "defer"}, {"locD4", "item"}, {"bad-loc", "bad subject"},
	} {
		publishRaw(t, js, "socialsync.trigger.post."+m.loc, []byte(m.data))
	}
	bustest.WaitFor(t, 10*time.Second, "every delivery settled", func() bool { return len(out.list()) == 7 })

	page := telemetrytest.Scrape(t, url)
	const name = "socialsync_messages_handled_total"
	base := []string{"worker", "fetcher", "subject", "socialsync.trigger.post.*"}
	for outcome, want := range map[string]float64{"ack": 5, "retry": 1, "deferred": 1, "dead_letter": 0} {
		if got := page.Sum(name, append(base, "outcome", outcome)...); got != want {
			t.Errorf("%s{outcome=%q} = %v, want %v", name, outcome, got, want)
		}
	}
	if got := page.Sum("socialsync_message_handling_seconds_count", base...); got != 7 {
		t.Errorf("handling histogram counted %v deliveries, want 7", got)
	}
	if !page.Has("socialsync_message_handling_seconds_bucket", append(base, "le", "0.005")...) {
		t.Error("handling histogram has no 5ms bucket: want buckets in seconds")
	}
	// The bad subject is contactsync's to dead-letter: the fetcher acks it
	// and counts it.
	if got := page.Sum("socialsync_bad_input_acked_total", "worker", "fetcher"); got != 1 {
		t.Errorf("socialsync_bad_input_acked_total = %v, want 1", got)
	}
	for reason, want := range map[string]float64{"bad_input": 0, "permanent": 1} {
		if got := page.Sum("socialsync_dead_letters_total", "worker", "fetcher", "reason", reason); got != want {
			t.Errorf("socialsync_dead_letters_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	lag := page.Find("socialsync_consumer_lag", "worker", "fetcher", "consumer", topology.DurableFetcher, "stream", topology.StreamTriggers)
	if len(lag) != 1 || lag[0].Value != 0 {
		t.Errorf("consumer lag %+v, want one series at 0 once everything is handled", lag)
	}
	// Bounded labels: no location id reaches any series.
	for _, loc := range []string{"locA1", "locB2", "bad-loc"} {
		if strings.Contains(page.Text, loc) {
			t.Errorf("a series names location %s:\n%s", loc, page.Text)
		}
	}
}

func TestConsumerLagMetric(t *testing.T) {
	js, topo := bustest.Setup(t)
	tel, url := metricsServer(t)
	release := make(chan struct{})
	h := func(ctx context.Context, _ jetstream.Msg) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	const n = 5
	for i := range n {
		publishRaw(t, js, "socialsync.trigger.stats.loc"+string(rune('A'+i)), []byte("x"))
	}
	r := run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableStats), h, bus.ConsumerOptions{
		MeterProvider: tel.MeterProvider(), Concurrency: 1,
	})
	lag := func() float64 {
		return telemetrytest.Scrape(t, url).Sum("socialsync_consumer_lag", "worker", "stats", "consumer", topology.DurableStats)
	}
	// Pending and in flight both count: nothing is done yet (the series
	// appears once Run has looked the durable up).
	bustest.WaitFor(t, 10*time.Second, "a lag of every message", func() bool { return lag() == n })
	close(release)
	bustest.WaitFor(t, 10*time.Second, "the lag to fall to 0", func() bool { return lag() == 0 })
	if err := r.stop(t, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	// A stopped consumer no longer reports its lag.
	if page := telemetrytest.Scrape(t, url); page.Has("socialsync_consumer_lag", "consumer", topology.DurableStats) {
		t.Error("a stopped consumer still reports its lag")
	}
}

func TestSubjectPattern(t *testing.T) {
	for subject, want := range map[string]string{
		"socialsync.trigger.post.loc1":       "socialsync.trigger.post.*",
		"socialsync.event.tagdetails.abc":    "socialsync.event.tagdetails.*",
		"socialsync.trigger.post.not-a-loc":  "socialsync.trigger.post.*",
		"socialsync.unknown.family.loc1":     "unknown",
		"socialsync.refresh.catalogue.Loc9z": "socialsync.refresh.catalogue.*",
		"nonsense":                           "unknown",
	} {
		if got := bus.SubjectPattern(subject, topology.Known); got != want {
			t.Errorf("SubjectPattern(%q) = %q, want %q", subject, got, want)
		}
	}
}

// Every stream, bucket and object store reports its stored bytes and its
// limit.
func TestStorageMetrics(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	tel, url := metricsServer(t)
	if _, err := topo.WatchStorage(js, tel.MeterProvider()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		publishRaw(t, js, "socialsync.event.tag.loc1", []byte("0123456789"))
	}
	page := telemetrytest.Scrape(t, url)
	for _, name := range topo.StreamNames() {
		if got := page.Sum("socialsync_stream_max_bytes", "stream", name); got <= 0 {
			t.Errorf("socialsync_stream_max_bytes{stream=%q} = %v, want its limit", name, got)
		}
	}
	if got := page.Sum("socialsync_stream_bytes", "stream", topology.StreamEvents); got < 30 {
		t.Errorf("socialsync_stream_bytes{stream=%q} = %v, want the 3 events' bytes", topology.StreamEvents, got)
	}
	if got, want := page.Sum("socialsync_stream_max_bytes", "stream", topology.StreamEvents), float64(topology.Footprints[1].MaxBytes(topology.DefaultLimitLocations)); got != want {
		t.Errorf("events limit reported %v, want %v", got, want)
	}
}
