package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

func TestHTTPHandlerContinuesTheCallersTrace(t *testing.T) {
	tel := setup(t, telemetry.Config{ServiceName: "gateway"})
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	var seen trace.SpanContext
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/{source}", func(w http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusAccepted)
	})
	srv := httptest.NewServer(tel.HTTPHandler("gateway", mux))
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/crm-7", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if seen.TraceID().String() != traceID || seen.SpanID().String() == parent || !seen.IsValid() {
		t.Errorf("handler span context %v, want a new span in trace %s", seen, traceID)
	}

	page := scrape(t, tel.MetricsHandler())
	line := lineWith(page, "http_server_request_duration_seconds_count{")
	if !strings.Contains(line, `http_route="/webhooks/{source}"`) || strings.Contains(page, "crm-7") {
		t.Errorf("request metric %q: want the route pattern as label and never the raw path", line)
	}
}

// An untrusted request's span starts a new trace linked to the caller's
// and keeps none of its baggage; a trusted one continues both. Either span
// begins at the start it is given, before the work that decided.
func TestServerSpansTrustOnlyWhenTold(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel := setup(t, telemetry.Config{ServiceName: "gateway", SpanProcessor: rec})
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	spans := tel.ServerSpans("gateway")
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, trusted := range []bool{true, false} {
		var bag string
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bag = baggage.FromContext(r.Context()).Member("tenant").Value()
			w.WriteHeader(http.StatusNoContent)
		})
		req := httptest.NewRequest(http.MethodGet, "/x", nil)
		req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
		req.Header.Set("baggage", "tenant=t1")
		spans.Serve(httptest.NewRecorder(), req, h, trusted, start)

		ended := rec.Ended()
		s := ended[len(ended)-1]
		continued := s.SpanContext().TraceID().String() == traceID && s.Parent().SpanID().String() == parent
		linked := len(s.Links()) == 1 && s.Links()[0].SpanContext.SpanID().String() == parent && !s.Parent().IsValid()
		if continued != trusted || linked == trusted || (bag == "t1") != trusted {
			t.Errorf("trusted %v: span %v, parent %v, links %v, baggage %q", trusted, s.SpanContext(), s.Parent(), s.Links(), bag)
		}
		if !s.StartTime().Equal(start) {
			t.Errorf("trusted %v: span starts at %v, want %v", trusted, s.StartTime(), start)
		}
	}
}
