package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
