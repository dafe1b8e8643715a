package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

// metricsExport is what the fake collector saw of one metrics export.
type metricsExport struct {
	Path     string
	Resource map[string]string
	// Sums holds each sum data point's value by metric name and its
	// attributes, "name{k=v}".
	Sums map[string]int64
}

// metricsCollector is an OTLP/HTTP endpoint recording metrics exports and
// counting the requests on any other path.
type metricsCollector struct {
	URL string

	mu      sync.Mutex
	exports []metricsExport
	other   []string
	errs    []error
}

func newMetricsCollector(t testing.TB) *metricsCollector {
	t.Helper()
	c := &metricsCollector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		if !strings.HasSuffix(r.URL.Path, "metrics") {
			c.other = append(c.other, r.URL.Path)
			return
		}
		req := &colmetricpb.ExportMetricsServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(body, req)
		}
		if err != nil {
			c.errs = append(c.errs, err)
			return
		}
		e := metricsExport{Path: r.URL.Path, Resource: map[string]string{}, Sums: map[string]int64{}}
		for _, rm := range req.GetResourceMetrics() {
			for _, kv := range rm.GetResource().GetAttributes() {
				e.Resource[kv.GetKey()] = kv.GetValue().GetStringValue()
			}
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					for _, dp := range m.GetSum().GetDataPoints() {
						var labels []string
						for _, kv := range dp.GetAttributes() {
							labels = append(labels, kv.GetKey()+"="+kv.GetValue().GetStringValue())
						}
						e.Sums[m.GetName()+"{"+strings.Join(labels, ",")+"}"] = dp.GetAsInt()
					}
				}
			}
		}
		c.exports = append(c.exports, e)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *metricsCollector) seen(t testing.TB) ([]metricsExport, []string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("collector could not decode a request: %v", err)
	}
	return append([]metricsExport(nil), c.exports...), append([]string(nil), c.other...)
}

func TestSetupExportsMetrics(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(url string) telemetry.Config
		path string
	}{
		{
			name: "base endpoint",
			cfg:  func(url string) telemetry.Config { return telemetry.Config{Endpoint: url} },
			path: "/v1/metrics",
		},
		{
			name: "metrics endpoint used as is, winning over the base",
			cfg: func(url string) telemetry.Config {
				return telemetry.Config{Endpoint: "http://127.0.0.1:1", TracesExporter: "none", MetricsEndpoint: url + "/custom/metrics"}
			},
			path: "/custom/metrics",
		},
		{
			name: "metrics protocol wins over a general http/json",
			cfg: func(url string) telemetry.Config {
				return telemetry.Config{Endpoint: url, Protocol: "http/json", MetricsProtocol: "http/protobuf", MetricsExporter: "prometheus,otlp"}
			},
			path: "/v1/metrics",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMetricsCollector(t)
			cfg := tt.cfg(c.URL)
			cfg.ServiceName, cfg.ServiceVersion = "stats", "v1.2.3"
			tel, err := telemetry.Setup(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			counter, err := tel.MeterProvider().Meter("test").Int64Counter("socialsync.test.handled")
			if err != nil {
				t.Fatal(err)
			}
			counter.Add(context.Background(), 3, metric.WithAttributes(attribute.String("worker", "stats")))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			exports, _ := c.seen(t)
			if len(exports) != 1 {
				t.Fatalf("collector got %d metrics exports, want the one of Shutdown", len(exports))
			}
			e := exports[0]
			if e.Path != tt.path {
				t.Errorf("exported to %s, want %s", e.Path, tt.path)
			}
			if diff := cmp.Diff(map[string]int64{"socialsync.test.handled{worker=stats}": 3}, e.Sums); diff != "" {
				t.Errorf("exported sums (-want +got):\n%s", diff)
			}
			if e.Resource["service.name"] != "stats" || e.Resource["service.version"] != "v1.2.3" {
				t.Errorf("resource %v, want service.name stats and service.version v1.2.3", e.Resource)
			}
			if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(e.Resource["service.instance.id"]) {
				t.Errorf("service.instance.id %q, want a UUID", e.Resource["service.instance.id"])
			}
		})
	}
}

func TestMetricsExporterNoneOrPrometheusPushesNothing(t *testing.T) {
	for _, exporter := range []string{"none", "prometheus", " Prometheus , none "} {
		t.Run(exporter, func(t *testing.T) {
			c := newMetricsCollector(t)
			tel, err := telemetry.Setup(context.Background(), telemetry.Config{Endpoint: c.URL, TracesExporter: "none", MetricsExporter: exporter})
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			counter, err := tel.MeterProvider().Meter("test").Int64Counter("socialsync.test.quiet")
			if err != nil {
				t.Fatal(err)
			}
			counter.Add(context.Background(), 1)
			// /metrics serves them all the same.
			if line := lineWith(scrape(t, tel.MetricsHandler()), "socialsync_test_quiet_total"); !strings.HasSuffix(line, " 1") {
				t.Errorf("/metrics line %q, want the counter at 1", line)
			}
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if exports, other := c.seen(t); len(exports)+len(other) != 0 {
				t.Errorf("collector got %v %v, want nothing with OTEL_METRICS_EXPORTER=%s", exports, other, exporter)
			}
		})
	}
}

func TestResourceNamesTheInstance(t *testing.T) {
	a := setup(t, telemetry.Config{ServiceName: "fetcher"})
	b := setup(t, telemetry.Config{ServiceName: "fetcher"})
	re := regexp.MustCompile(`service_instance_id="([^"]+)"`)
	var ids []string
	for _, tel := range []*telemetry.Telemetry{a, b} {
		info := lineWith(scrape(t, tel.MetricsHandler()), "target_info{")
		m := re.FindStringSubmatch(info)
		if m == nil {
			t.Fatalf("target_info %q has no service_instance_id", info)
		}
		ids = append(ids, m[1])
		if want := `service_version="` + telemetry.Version() + `"`; !strings.Contains(info, want) {
			t.Errorf("target_info %q lacks %s", info, want)
		}
	}
	if ids[0] == ids[1] {
		t.Errorf("two processes share service.instance.id %s", ids[0])
	}
}
