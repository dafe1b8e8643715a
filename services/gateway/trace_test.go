package gateway_test

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/gateway"
)

// A caller's trace context is continued by an authenticated request only,
// and only while SOCIALSYNC_TRUST_INCOMING_TRACE is set; every other
// request starts a new trace linked to the caller's, and drops its
// baggage. A trigger published while answering carries the gateway's
// trace: the caller's when continued, the new one otherwise.
func TestTraceContext(t *testing.T) {
	type request struct {
		name          string
		method, path  string
		header        func(w *world, body []byte) http.Header
		body          func(w *world) []byte
		status        int
		authenticated bool
		// route is the span's name; subject, when set, the subject of the
		// one trigger the request stores.
		route, subject string
	}
	loc := func(w *world) string { return w.Locations[0].ID }
	key := func(k string) func(*world, []byte) http.Header {
		return func(*world, []byte) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	}
	none := func(*world, []byte) http.Header { return http.Header{} }
	post := func(w *world) []byte { return jsonBody(t, postEvent(loc(w), "traced-"+rand.Text()[:8])) }
	requests := []request{
		{name: "api key", method: http.MethodPost, path: "/v1/locations/{loc}/triggers/stats", header: key(testKey),
			status: http.StatusAccepted, authenticated: true, route: "POST /v1/locations/{loc}/triggers/stats", subject: "socialsync.trigger.stats."},
		{name: "webhook", method: http.MethodPost, path: "/v1/webhooks/posts", body: post,
			header: func(_ *world, body []byte) http.Header { return signed(testSecret, time.Now(), body) },
			status: http.StatusAccepted, authenticated: true, route: "POST /v1/webhooks/posts", subject: "socialsync.trigger.post."},
		{name: "bad api key", method: http.MethodPost, path: "/v1/locations/{loc}/triggers/stats", header: key("sk-wrong-0123456789abcdef"),
			status: http.StatusUnauthorized, route: "POST /v1/locations/{loc}/triggers/stats"},
		{name: "no api key", method: http.MethodGet, path: "/v1/locations", header: none,
			status: http.StatusUnauthorized, route: "GET /v1/locations"},
		{name: "bad signature", method: http.MethodPost, path: "/v1/webhooks/posts", body: post,
			header: func(_ *world, body []byte) http.Header { return signed(crmSecret, time.Now(), body) },
			status: http.StatusUnauthorized, route: "POST /v1/webhooks/posts"},
		{name: "openapi", method: http.MethodGet, path: "/v1/openapi.yaml", header: none, status: http.StatusOK, route: "GET /v1/openapi.yaml"},
		{name: "dashboard", method: http.MethodGet, path: "/", header: none, status: http.StatusOK, route: "GET /{$}"},
		{name: "no route", method: http.MethodGet, path: "/nowhere", header: none, status: http.StatusNotFound, route: "GET gateway"},
	}
	for _, trust := range []bool{true, false} {
		w := startEnv(t, fleettest.StartTraced(t, "demo"), func(c *gateway.Config) { c.TrustIncomingTrace = trust })
		for _, rq := range requests {
			continues := trust && rq.authenticated
			t.Run(rq.name+trustName(trust), func(t *testing.T) {
				caller := callerSpan(t)
				var body []byte
				if rq.body != nil {
					body = rq.body(w)
				}
				h := rq.header(w, body)
				h.Set("traceparent", "00-"+caller.TraceID().String()+"-"+caller.SpanID().String()+"-01")
				h.Set("tracestate", "vendor=caller")
				h.Set("baggage", "tenant=caller-chosen")
				path := strings.Replace(rq.path, "{loc}", loc(w), 1)
				if a := w.do(t, rq.method, path, h, body); a.status != rq.status {
					t.Fatalf("%s %s: %d %s, want %d", rq.method, path, a.status, a.body, rq.status)
				}
				s := serverSpan(t, w, caller)
				if s.Name() != rq.route {
					t.Errorf("server span named %q, want %q", s.Name(), rq.route)
				}
				if continues {
					if s.SpanContext().TraceID() != caller.TraceID() || s.Parent().SpanID() != caller.SpanID() || len(s.Links()) != 0 {
						t.Errorf("server span %v (parent %v, %d links), want a child of the caller's span %v",
							s.SpanContext(), s.Parent(), len(s.Links()), caller)
					}
				} else {
					if s.SpanContext().TraceID() == caller.TraceID() || s.Parent().IsValid() {
						t.Errorf("server span %v (parent %v) continues the caller's trace, want a new root", s.SpanContext(), s.Parent())
					}
					if l := s.Links(); len(l) != 1 || l[0].SpanContext.TraceID() != caller.TraceID() || l[0].SpanContext.SpanID() != caller.SpanID() {
						t.Errorf("server span links %v, want one to the caller's span %v", l, caller)
					}
					for _, o := range w.Spans.Ended() {
						if o.SpanContext().TraceID() == caller.TraceID() {
							t.Errorf("span %q joined the caller's trace", o.Name())
						}
					}
				}
				if rq.subject == "" {
					return
				}
				msgs := bustest.Messages(t, w.JS, topology.StreamTriggers, rq.subject+loc(w))
				if len(msgs) != 1 {
					t.Fatalf("%d triggers stored on %s, want 1", len(msgs), rq.subject+loc(w))
				}
				if tp, want := msgs[0].Header.Get("traceparent"), s.SpanContext().TraceID().String(); len(tp) < 35 || tp[3:35] != want {
					t.Errorf("the stored trigger's traceparent is %q, want one in the gateway's trace %s", tp, want)
				}
				if bag := msgs[0].Header.Get("baggage"); (bag != "") != continues {
					t.Errorf("the stored trigger's baggage is %q; want the caller's only when its trace is continued", bag)
				}
			})
		}
	}
}

func trustName(trust bool) string {
	if trust {
		return ""
	}
	return ", trust off"
}

// callerSpan returns a sampled remote span context in a trace of its own.
func callerSpan(t *testing.T) trace.SpanContext {
	t.Helper()
	var tid trace.TraceID
	var sid trace.SpanID
	_, _ = rand.Read(tid[:])
	_, _ = rand.Read(sid[:])
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// serverSpan waits for the gateway's server span of the request that sent
// caller's context: the one in caller's trace or linked to it.
func serverSpan(t *testing.T, w *world, caller trace.SpanContext) sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []sdktrace.ReadOnlySpan
		for _, s := range w.Spans.Ended() {
			if s.SpanKind() != trace.SpanKindServer {
				continue
			}
			linked := false
			for _, l := range s.Links() {
				linked = linked || l.SpanContext.TraceID() == caller.TraceID()
			}
			if linked || s.SpanContext().TraceID() == caller.TraceID() {
				found = append(found, s)
			}
		}
		switch {
		case len(found) > 1:
			t.Fatalf("%d server spans for one request", len(found))
		case len(found) == 1:
			return found[0]
		case time.Now().After(deadline):
			t.Fatal("no server span continues or links the caller's trace")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
