package deploy

import (
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/telemetry/telemetrytest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// TestStorageAlert checks the PrometheusRule every overlay renders: an
// alert at 80% of a stream's limit whose query names only metrics and
// labels a process exports, as read from a real process's /metrics over a
// real JetStream server.
func TestStorageAlert(t *testing.T) {
	be := bustest.Start(t, topology.Options{})
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{ServiceName: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if _, err := topology.New(topology.Options{}).WatchStorage(be.JS, tel.MeterProvider()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(tel.MetricsHandler())
	t.Cleanup(srv.Close)
	page := telemetrytest.Scrape(t, srv.URL+"/metrics")

	metricRe := regexp.MustCompile(`\bsocialsync_[a-z_]+`)
	byRe := regexp.MustCompile(`by \(([^)]*)\)`)
	for _, ov := range overlays {
		t.Run(ov.name, func(t *testing.T) {
			r := render(t, ov.name)
			pr := r.rules["socialsync"]
			if pr == nil {
				t.Fatal("no PrometheusRule socialsync")
			}
			if ns := r.namespaceOf["PrometheusRule/socialsync"]; ns != ov.namespace {
				t.Errorf("namespace %q, want %q", ns, ov.namespace)
			}
			found := false
			for _, g := range pr.Spec.Groups {
				for _, rule := range g.Rules {
					if rule.Alert != "SocialsyncStreamAlmostFull" {
						continue
					}
					found = true
					if !strings.Contains(rule.Expr, "> 0.8") || rule.For == "" || rule.Labels["severity"] == "" || rule.Annotations["summary"] == "" {
						t.Errorf("rule %+v: want > 0.8, a for, a severity and a summary", rule)
					}
					names := metricRe.FindAllString(rule.Expr, -1)
					if len(names) != 2 {
						t.Errorf("expr %q names %v, want the bytes and the limit", rule.Expr, names)
					}
					for _, n := range names {
						if !page.Has(n, "stream", topology.StreamTriggers) {
							t.Errorf("expr names %s{stream=%q}, which a process does not export", n, topology.StreamTriggers)
						}
					}
					for _, m := range byRe.FindAllStringSubmatch(rule.Expr, -1) {
						if strings.TrimSpace(m[1]) != "stream" {
							t.Errorf("expr groups by %q, want stream", m[1])
						}
					}
				}
			}
			if !found {
				t.Error("no alert SocialsyncStreamAlmostFull")
			}
		})
	}
}
