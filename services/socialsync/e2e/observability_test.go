package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// randomHex returns n random bytes in hex.
func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// publishJSON publishes a protojson payload as an outside system would
// (`nats pub -H Content-Type:application/json`), with a W3C traceparent
// when parent is set.
func (f *fleet) publishJSON(subject, payload, traceparent string) {
	f.t.Helper()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		f.t.Fatal(err)
	}
	msg := nats.NewMsg(subject)
	msg.Header.Set("Content-Type", "application/json")
	if traceparent != "" {
		msg.Header.Set("traceparent", traceparent)
	}
	msg.Data = []byte(payload)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		f.t.Fatal(err)
	}
}

// postTrigger is the protojson PostEvent of a post carrying the first two
// tags of d, linked to its first three contacts.
func postTrigger(d ghlsim.LocationView, eventID string) (payload string, contacts, wantTags []string) {
	contacts = []string{d.Contacts[0].ID, d.Contacts[1].ID, d.Contacts[2].ID}
	payload = fmt.Sprintf(`{"locationId":%q,"postId":"65f151c99bc2bf3aaf970d72","tagIds":[%q,%q],"contactIds":[%q,%q,%q],"eventId":%q}`,
		d.ID, d.SocialTags[0].ID, d.SocialTags[1].ID, contacts[0], contacts[1], contacts[2], eventID)
	wantTags = []string{"social:" + strings.ToLower(d.SocialTags[0].Tag), "social:" + strings.ToLower(d.SocialTags[1].Tag)}
	return payload, contacts, wantTags
}

// waitTagged waits until every contact has every tag. The bound is
// generous: after a spell of 429s, contactsync's trigger may be waiting
// out a doubled backoff (its tags were not in the catalogue yet).
func (f *fleet) waitTagged(loc string, contacts, tags []string) {
	f.t.Helper()
	eventually(f.t, 120*time.Second, "the post's tags on its contacts", func() bool {
		got := contactTags(f.location(loc))
		for _, c := range contacts {
			for _, tag := range tags {
				if !slices.Contains(got[c], tag) {
					return false
				}
			}
		}
		return true
	})
}

// TestTracesInJaeger runs Jaeger v2, nats-server, the simulator and the
// four workers as separate processes, the workers exporting spans over
// OTLP/HTTP as the standard OTEL_* variables tell them. A post trigger and
// a statistics trigger, each published with its own traceparent, end up
// as one trace each in Jaeger, holding spans from every worker that
// handled the trigger or what it caused, the first of them a child of the
// publisher's span, with HighLevel calls as client spans.
func TestTracesInJaeger(t *testing.T) {
	bin := jaegerBinary(t)
	f := newFleet(t)
	j := f.startJaeger(bin)
	f.env = append(f.env,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+j.OTLP,
		"OTEL_BSP_SCHEDULE_DELAY=100", // export within 100ms, not 5s
		"OTEL_METRICS_EXPORTER=none",  // Jaeger takes traces, not metrics
	)
	d := f.firstLocation()
	f.register(d)
	for _, w := range []string{"fetcher", "enricher", "stats", "contactsync"} {
		f.worker(w)
	}

	postTrace, statsTrace, parent := randomHex(t, 16), randomHex(t, 16), randomHex(t, 8)
	payload, contacts, tags := postTrigger(d, "e2e-jaeger-"+postTrace)
	f.publishJSON("socialsync.trigger.post."+d.ID, payload, "00-"+postTrace+"-"+parent+"-01")
	f.waitTagged(d.ID, contacts, tags)
	f.publishJSON("socialsync.trigger.stats."+d.ID, fmt.Sprintf(`{"locationId":%q,"eventId":"e2e-jaeger-%s"}`, d.ID, statsTrace),
		"00-"+statsTrace+"-"+parent+"-01")

	// The trigger reached the fetcher, which asked the enricher for tag
	// details and published tag events, which contactsync handled along
	// with the trigger itself.
	ghlSpans := map[string]string{
		"fetcher":     "ghl GET /social-media-posting/{locationId}/tags",
		"enricher":    "ghl POST /social-media-posting/{locationId}/tags/details",
		"contactsync": "ghl POST /contacts/bulk/tags/update/{type}",
	}
	post := j.waitTrace(t, postTrace, func(tr jaegerTrace) bool {
		for service, op := range ghlSpans {
			if !tr.hasSpan(service, op) {
				return false
			}
		}
		return true
	}, "fetcher", "enricher", "contactsync")
	// The statistics trigger reached stats, which published its snapshot
	// event in the same trace (no worker consumes those yet: segments and
	// workflows will).
	// A handler paced by the location's budget (the first catalogue mirror
	// shares it) hands its message back and ends its span: the trace is
	// complete once the snapshot is published, however many deliveries
	// that took.
	stats := j.waitTrace(t, statsTrace, func(tr jaegerTrace) bool {
		return tr.hasSpan("stats", "send socialsync.event.stats") && tr.hasSpan("stats", "ghl POST /social-media-posting/statistics")
	}, "stats")
	if !stats.hasSpan("stats", "send socialsync.event.stats") {
		t.Errorf("the statistics trace has no snapshot publication; its spans: %v", stats.operations())
	}

	for _, tr := range []jaegerTrace{post, stats} {
		checkTrace(t, tr, parent, d.ID, d.Token)
	}
	// HighLevel calls as client spans, with the route template.
	for service, op := range ghlSpans {
		if !post.hasSpan(service, op) {
			t.Errorf("the post trace has no %q span from %s; its spans: %v", op, service, post.operations())
		}
	}
	if !stats.hasSpan("stats", "ghl POST /social-media-posting/statistics") {
		t.Errorf("the statistics trace has no statistics call from stats; its spans: %v", stats.operations())
	}

	// What a person looking for the fleet in Jaeger does (see docs/observability.md).
	var services struct{ Data []string }
	j.get(t, "/api/services", &services)
	for _, want := range []string{"fetcher", "enricher", "stats", "contactsync"} {
		if !slices.Contains(services.Data, want) {
			t.Errorf("Jaeger's services %v lack %s", services.Data, want)
		}
	}
	var found struct{ Data []jaegerTrace }
	j.get(t, "/api/traces?service=fetcher&limit=50", &found)
	if !slices.ContainsFunc(found.Data, func(tr jaegerTrace) bool { return tr.TraceID == postTrace }) {
		t.Errorf("searching the fetcher's traces does not find the post trace %s", postTrace)
	}
}

// waitTrace polls Jaeger until trace id holds spans of every service, is
// complete, and has stopped growing (the workers export every 100ms; a
// trace arrives in pieces, and a deferred message's later deliveries add
// to it after a pause).
func (j *jaeger) waitTrace(t *testing.T, id string, complete func(jaegerTrace) bool, services ...string) jaegerTrace {
	t.Helper()
	const quiet = 1500 * time.Millisecond
	var (
		last    jaegerTrace
		body    string
		spans   = -1
		changed time.Time
	)
	deadline := time.Now().Add(60 * time.Second)
	for {
		tr, b, ok := j.trace(t, id)
		last, body = tr, b
		if ok {
			if len(tr.Spans) != spans {
				spans, changed = len(tr.Spans), time.Now()
			}
			got := tr.services()
			missing := slices.DeleteFunc(slices.Clone(services), func(s string) bool { return got[s] > 0 })
			if len(missing) == 0 && complete(tr) && time.Since(changed) >= quiet {
				return tr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s in Jaeger is not complete or lacks spans of %v after 60s; services %v, spans %v, answer %.2000s", id, services, last.services(), last.operations(), body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkTrace checks what every trace of the fleet must show: the resource
// of each process, a first span continuing the publisher's, GHL client
// spans with their attributes, and no token anywhere.
func checkTrace(t *testing.T, tr jaegerTrace, parent, loc, token string) {
	t.Helper()
	for id, p := range tr.Processes {
		for _, key := range []string{"service.version", "service.instance.id"} {
			if v, ok := tag(p.Tags, key); !ok || v == "" {
				t.Errorf("process %s (%s) has no %s: %v", id, p.ServiceName, key, p.Tags)
			}
		}
	}
	children := 0
	for _, s := range tr.Spans {
		for _, r := range s.References {
			if r.SpanID == parent {
				children++
				if !strings.HasPrefix(s.OperationName, "process socialsync.trigger.") {
					t.Errorf("span %q is a child of the publisher's span, want a consumer span of the trigger", s.OperationName)
				}
			}
		}
		if !strings.HasPrefix(s.OperationName, "ghl ") {
			continue
		}
		kind, _ := tag(s.Tags, "span.kind")
		tmpl, _ := tag(s.Tags, "url.template")
		status, sent := tag(s.Tags, "http.response.status_code")
		errType, _ := tag(s.Tags, "error.type")
		spanLoc, _ := tag(s.Tags, "ghl.location_id")
		_, retries := tag(s.Tags, "ghl.retry_count")
		// A call the governor paced was never sent: no status, error.type
		// "limiter" (its message was handed back for later).
		if kind != "client" || tmpl == "" || !strings.Contains(s.OperationName, tmpl) || strings.Contains(tmpl, loc) ||
			!sent && errType != "limiter" || spanLoc != loc || !retries {
			t.Errorf("GHL span %q: kind %q, template %q, status %q (error.type %q), location %q, retry count set %v; want a client span with the route template, status, location and retry count",
				s.OperationName, kind, tmpl, status, errType, spanLoc, retries)
		}
	}
	if children == 0 {
		var refs []string
		for _, s := range tr.Spans {
			refs = append(refs, fmt.Sprintf("%s %s refs %v", tr.Processes[s.ProcessID].ServiceName, s.OperationName, s.References))
		}
		t.Errorf("no span of trace %s continues the publisher's span %s:\n%s", tr.TraceID, parent, strings.Join(refs, "\n"))
	}
	for _, s := range tr.Spans {
		for _, kv := range s.Tags {
			if strings.Contains(fmt.Sprint(kv.Value), token) {
				t.Errorf("span %q tag %s shows the location's token", s.OperationName, kv.Key)
			}
		}
	}
}

// hasSpan reports whether service has a span named op in the trace.
func (tr jaegerTrace) hasSpan(service, op string) bool {
	for _, s := range tr.Spans {
		if s.OperationName == op && tr.Processes[s.ProcessID].ServiceName == service {
			return true
		}
	}
	return false
}

// operations lists "service: operation" for every span, for messages.
func (tr jaegerTrace) operations() []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, tr.Processes[s.ProcessID].ServiceName+": "+s.OperationName)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestWorkerMetrics runs the workers as processes and reads their /metrics
// over HTTP as Prometheus would: HighLevel's 429s and the messages handed
// back because of them, then the same work done, then a malformed trigger
// dead-lettered, each moving the counters it should and nothing else, with
// bounded labels and no token on any page.
func TestWorkerMetrics(t *testing.T) {
	f := newFleet(t)
	d := f.firstLocation()
	f.register(d)
	fetcher := f.worker("fetcher")
	f.worker("enricher")
	contactsync := f.worker("contactsync")
	scrape := func(p *proc) *telemetrytest.Page {
		page, err := telemetrytest.ScrapeErr("http://" + p.addr + "/metrics")
		if err != nil {
			return &telemetrytest.Page{}
		}
		return page
	}
	eventually(t, 30*time.Second, "the workers' /metrics", func() bool {
		return len(scrape(fetcher).Samples) > 0 && len(scrape(contactsync).Samples) > 0
	})
	const (
		handled   = "socialsync_messages_handled_total"
		calls     = "socialsync_ghl_calls_total"
		tagsRoute = "GET /social-media-posting/{locationId}/tags"
		postSubj  = "socialsync.trigger.post.*"
	)

	// HighLevel answers every request with a 429: the fetcher's catalogue
	// fetch is rate limited and its message handed back for later.
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{"rate429": 1.0, "seed": 1}, nil)
	payload, contacts, tags := postTrigger(d, "e2e-metrics")
	f.publishJSON("socialsync.trigger.post."+d.ID, payload, "")
	eventually(t, 30*time.Second, "429s and a message handed back in the fetcher's metrics", func() bool {
		p := scrape(fetcher)
		return p.Sum("socialsync_ghl_rate_limited_total", "location", d.ID) >= 1 &&
			p.Sum(calls, "endpoint", tagsRoute, "status", "429") >= 1 &&
			p.Sum(handled, "worker", "fetcher", "outcome", bus.OutcomeRetry)+p.Sum(handled, "worker", "fetcher", "outcome", bus.OutcomeDeferred) >= 1
	})

	// HighLevel recovers: the same work is done.
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{}, nil)
	f.waitTagged(d.ID, contacts, tags)
	eventually(t, 30*time.Second, "the handled trigger and refresh in the fetcher's metrics", func() bool {
		p := scrape(fetcher)
		return p.Sum(handled, "worker", "fetcher", "subject", postSubj, "outcome", bus.OutcomeAck) >= 1 &&
			p.Sum(handled, "worker", "fetcher", "subject", "socialsync.refresh.catalogue.*", "outcome", bus.OutcomeAck) >= 1 &&
			p.Sum(calls, "endpoint", tagsRoute, "status", "200") >= 1 &&
			p.Has("socialsync_rate_headroom", "location", d.ID)
	})
	before := scrape(fetcher)
	if got := before.Sum(handled, "outcome", bus.OutcomeDeadLetter); got != 0 {
		t.Errorf("%v dead letters before any bad input", got)
	}

	// A malformed trigger: contactsync, which owns post triggers, sends the
	// one dead letter; the fetcher acks it and counts it.
	f.publishJSON("socialsync.trigger.post."+d.ID, `{"locationId": not json`, "")
	eventually(t, 30*time.Second, "contactsync dead-lettering the malformed trigger", func() bool {
		page := scrape(contactsync)
		return page.Sum(handled, "worker", "contactsync", "subject", postSubj, "outcome", bus.OutcomeDeadLetter) == 1 &&
			page.Sum("socialsync_dead_letters_total", "worker", "contactsync", "reason", "bad_input") == 1
	})
	eventually(t, 30*time.Second, "the fetcher acking the malformed trigger", func() bool {
		return scrape(fetcher).Sum("socialsync_bad_input_acked_total", "worker", "fetcher") == 1
	})
	after := scrape(fetcher)
	if got := after.Sum("socialsync_dead_letters_total", "worker", "fetcher"); got != 0 {
		t.Errorf("the fetcher sent %v dead letters, want none: contactsync owns post triggers", got)
	}
	if n := after.Sum("socialsync_message_handling_seconds_count", "worker", "fetcher", "subject", postSubj); n < 2 {
		t.Errorf("the handling histogram counted %v post triggers, want at least 2", n)
	}
	for _, stream := range []string{topology.StreamTriggers, topology.StreamRefresh} {
		if !after.Has("socialsync_consumer_lag", "worker", "fetcher", "consumer", topology.DurableFetcher, "stream", stream) {
			t.Errorf("no consumer lag for the fetcher's durable on %s", stream)
		}
	}
	if !after.Has("target_info", "service_name", "fetcher") {
		t.Error("target_info does not name the fetcher")
	}

	// Bounded labels, no token.
	for _, p := range []*proc{fetcher, contactsync} {
		page := scrape(p)
		for _, s := range page.LabelValues(handled, "subject") {
			if !strings.HasSuffix(s, ".*") {
				t.Errorf("%s: subject label %q is not a pattern", p.name, s)
			}
		}
		for _, e := range page.LabelValues(calls, "endpoint") {
			if strings.Contains(e, d.ID) {
				t.Errorf("%s: endpoint label %q holds a location id", p.name, e)
			}
		}
		if strings.Contains(page.Text, d.Token) {
			t.Errorf("%s: /metrics shows the location's token", p.name)
		}
	}
}
