package telemetry_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

// scrape GETs the metrics page and returns its body.
func scrape(t testing.TB, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, body %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// lineWith returns the first line of page that starts with prefix.
func lineWith(page, prefix string) string {
	for line := range strings.Lines(page) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func TestMetricsHandlerServesCounters(t *testing.T) {
	tel := setup(t, telemetry.Config{ServiceName: "contactsync"})

	counter, err := tel.MeterProvider().Meter("socialsync/test").Int64Counter("socialsync.tags.applied",
		metric.WithDescription("Tags applied to contacts."))
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(context.Background(), 2, metric.WithAttributes(attribute.String("location", "loc1")))
	counter.Add(context.Background(), 3, metric.WithAttributes(attribute.String("location", "loc1")))

	// The global meter provider is the same one.
	global, err := otel.Meter("socialsync/test").Int64Counter("socialsync.global.hits")
	if err != nil {
		t.Fatal(err)
	}
	global.Add(context.Background(), 7)

	page := scrape(t, tel.MetricsHandler())
	line := lineWith(page, "socialsync_tags_applied_total{")
	if !strings.Contains(line, `location="loc1"`) || !strings.HasSuffix(line, " 5") {
		t.Errorf("counter line %q, want socialsync_tags_applied_total{...location=\"loc1\"...} 5; page:\n%s", line, page)
	}
	if line := lineWith(page, "socialsync_global_hits_total{"); !strings.HasSuffix(line, " 7") {
		t.Errorf("global counter line %q, want a value of 7", line)
	}
	if !strings.Contains(page, `service_name="contactsync"`) {
		t.Errorf("page has no target_info with service_name=\"contactsync\":\n%s", page)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if lineWith(page, name) == "" {
			t.Errorf("page has no %s", name)
		}
	}
}

func TestMetricsRegistryIsPrivate(t *testing.T) {
	a := setup(t, telemetry.Config{})
	b := setup(t, telemetry.Config{})
	c, err := a.MeterProvider().Meter("test").Int64Counter("only.in.a")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 1)
	if page := scrape(t, b.MetricsHandler()); strings.Contains(page, "only_in_a") {
		t.Errorf("b's page shows a's counter")
	}
	if page := scrape(t, a.MetricsHandler()); !strings.Contains(page, "only_in_a") {
		t.Errorf("a's page lacks its own counter")
	}
}

func TestStandardResourceVariablesWin(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=staging")
	tel := setup(t, telemetry.Config{ServiceName: "fetcher"})
	info := lineWith(scrape(t, tel.MetricsHandler()), "target_info{")
	for _, want := range []string{`service_name="from-env"`, `deployment_environment_name="staging"`} {
		if !strings.Contains(info, want) {
			t.Errorf("target_info %q lacks %s", info, want)
		}
	}
}

func TestExportErrorsReachTheLogger(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "no", http.StatusBadRequest) // not retryable
	}))
	t.Cleanup(srv.Close)
	var buf bytes.Buffer
	log := telemetry.NewLogger(&syncWriter{w: &buf}, slog.LevelInfo, "json")
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Endpoint: srv.URL, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otel.SetErrorHandler(otel.ErrorHandlerFunc(func(error) {})) })
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "doomed")
	span.End()
	_ = tel.Shutdown(context.Background()) // the failed export may or may not come back here too
	if got := buf.String(); !strings.Contains(got, `"msg":"telemetry error"`) || !strings.Contains(got, "400") {
		t.Errorf("log %q, want a telemetry error mentioning the 400", got)
	}
}
