package telemetry_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

// Samples reads what /metrics shows, by its Prometheus name, per series.
func TestSamplesReadTheProcessMetrics(t *testing.T) {
	tel := setup(t, telemetry.Config{ServiceName: "socialsync"})
	meter := tel.MeterProvider().Meter("socialsync/test")
	calls, err := meter.Int64Counter("socialsync.ghl.calls")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls.Add(ctx, 2, metric.WithAttributes(attribute.String("status", "200")))
	calls.Add(ctx, 3, metric.WithAttributes(attribute.String("status", "429")))
	if _, err := meter.Int64ObservableGauge("socialsync.rate.headroom", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(42, metric.WithAttributes(attribute.String("location", "loc1")))
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	got, err := tel.Samples("socialsync_ghl_calls_total")
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]float64{}
	for _, s := range got {
		by[s.Labels["status"]] = s.Value
	}
	if len(got) != 2 || by["200"] != 2 || by["429"] != 3 {
		t.Errorf("calls: %+v", got)
	}
	gauge, err := tel.Samples("socialsync_rate_headroom")
	if err != nil || len(gauge) != 1 || gauge[0].Value != 42 || gauge[0].Labels["location"] != "loc1" {
		t.Errorf("headroom: %+v, %v", gauge, err)
	}
	if none, err := tel.Samples("socialsync_nothing_total"); err != nil || len(none) != 0 {
		t.Errorf("a metric without series: %+v, %v", none, err)
	}
}
