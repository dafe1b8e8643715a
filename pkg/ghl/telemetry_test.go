package ghl

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTracer returns a TracerProvider that exports ended spans to memory.
func newTracer(t testing.TB) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, exp
}

// spanDump renders everything a span exporter would ship: names, status,
// attributes, events and their attributes.
func spanDump(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "span %q status %v %q\n", s.Name, s.Status.Code, s.Status.Description)
		for _, a := range s.Attributes {
			fmt.Fprintf(&b, "  %s=%s\n", a.Key, a.Value.Emit())
		}
		for _, e := range s.Events {
			fmt.Fprintf(&b, "  event %q\n", e.Name)
			for _, a := range e.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", a.Key, a.Value.Emit())
			}
		}
	}
	return b.String()
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value)
	for _, a := range s.Attributes {
		m[a.Key] = a.Value
	}
	return m
}

func TestSpansCarryNoSecrets(t *testing.T) {
	const (
		secret  = "client-secret-7f3a9c2e"
		refresh = "refresh-token-55d1e0a4b7"
	)
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/oauth/token":
			reply(400, map[string]any{"error": "invalid_grant", "error_description": "refresh token " + refresh + " already used by " + secret})(w, r)
		case strings.HasPrefix(r.URL.Path, "/contacts/"):
			reply(422, map[string]any{"statusCode": 422, "message": []string{"bad bearer " + testToken}, "traceId": "tr-9"})(w, r)
		default:
			if r.Header.Get("traceparent") == "" {
				reply(400, map[string]any{"message": "no traceparent"})(w, r)
				return
			}
			reply(200, tagsOK, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "42", "X-RateLimit-Daily-Remaining", "1999")(w, r)
		}
	}}}
	tp, exp := newTracer(t)
	c := newFakeClient(t, srv, Options{TracerProvider: tp, Propagator: propagation.TraceContext{}, MaxRetries: -1})
	ctx := context.Background()

	var errs []error
	if _, err := c.ListSocialTags(ctx, "loc1", SearchOpts{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.ForLocation("loc1", nil).AddContactTags(ctx, "c1", []string{"vip"})
	errs = append(errs, err)
	_, err = c.RefreshToken(ctx, AppCredentials{ClientID: "cid", ClientSecret: secret}, refresh, UserTypeLocation)
	errs = append(errs, err)
	if !IsAuth(err) {
		t.Errorf("invalid_grant: err = %v, want auth", err)
	}

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want one per call", len(spans))
	}
	dump := spanDump(spans)
	for _, e := range errs {
		if e == nil {
			t.Fatal("call unexpectedly succeeded")
		}
		dump += e.Error() + "\n"
	}
	for _, s := range []string{testToken, secret, refresh} {
		if strings.Contains(dump, s) {
			t.Errorf("secret %q leaked into spans or errors:\n%s", s, dump)
		}
	}

	ok := spans[0]
	if ok.Name != "ghl GET /social-media-posting/{locationId}/tags" || ok.SpanKind != trace.SpanKindClient || ok.Status.Code == codes.Error {
		t.Errorf("success span %q kind %v status %v", ok.Name, ok.SpanKind, ok.Status)
	}
	a := attrs(ok)
	want := map[attribute.Key]string{
		"http.request.method":       "GET",
		"url.template":              "/social-media-posting/{locationId}/tags",
		"server.address":            "ghl.test",
		"http.response.status_code": "200",
		"ghl.location_id":           "loc1",
		"ghl.retry_count":           "0",
		"ghl.ratelimit.remaining":   "42",
	}
	for k, v := range want {
		if got := a[k].Emit(); got != v {
			t.Errorf("success span %s = %q, want %q", k, got, v)
		}
	}

	bad := spans[1]
	ba := attrs(bad)
	if bad.Status.Code != codes.Error || ba["http.response.status_code"].AsInt64() != 422 || ba["error.type"].AsString() != "permanent" || ba["ghl.location_id"].AsString() != "loc1" {
		t.Errorf("failed span %q: status %v attrs %v", bad.Name, bad.Status, ba)
	}
}

func TestSpanRecordsRetries(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
		reply(500, map[string]any{"message": "boom"}),
		reply(200, tagsOK),
	}}
	tp, exp := newTracer(t)
	c := newFakeClient(t, srv, Options{TracerProvider: tp, InitialBackoff: 1})
	if _, err := c.ListSocialTags(context.Background(), "loc1", SearchOpts{}); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 for one logical call", len(spans))
	}
	if got := attrs(spans[0])["ghl.retry_count"].AsInt64(); got != 1 {
		t.Errorf("retry_count = %d, want 1", got)
	}
	if len(spans[0].Events) != 1 || spans[0].Events[0].Name != "ghl.retry" {
		t.Errorf("events = %+v", spans[0].Events)
	}
}
