package ghl

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// headroomSeries collects the headroom gauge: remaining by location.
func headroomSeries(t *testing.T, r *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricRateHeadroom {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				loc, _ := dp.Attributes.Value("location")
				out[loc.AsString()] = dp.Value
			}
		}
	}
	return out
}

func TestHeadroomSeriesAreBounded(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := newClientMetrics(mp)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }

	const locations = MaxHeadroomSeries + 50
	for i := range locations {
		r := &request{method: "GET", template: "/locations/{locationId}", location: fmt.Sprintf("loc%04d", i)}
		m.sent(r, &ResponseInfo{StatusCode: 200, RateLimit: RateLimit{Present: true, Remaining: locations - i}})
	}
	got := headroomSeries(t, reader)
	if len(got) != MaxHeadroomSeries {
		t.Fatalf("%d headroom series, want at most %d", len(got), MaxHeadroomSeries)
	}
	// The lowest headroom is what an operator needs to see.
	if _, ok := got[fmt.Sprintf("loc%04d", locations-1)]; !ok {
		t.Error("the location with the least headroom is not reported")
	}
	if _, ok := got["loc0000"]; ok {
		t.Error("the location with the most headroom is reported over the cap")
	}

	// Locations not called for HeadroomTTL drop out.
	now = now.Add(HeadroomTTL + time.Second)
	m.sent(&request{method: "GET", template: "/x", location: "fresh"}, &ResponseInfo{StatusCode: 200, RateLimit: RateLimit{Present: true, Remaining: 7}})
	if got := headroomSeries(t, reader); len(got) != 1 || got["fresh"] != 7 {
		t.Errorf("headroom after the others went quiet = %v, want only fresh=7", got)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *clientMetrics
	m.sent(&request{method: "GET", template: "/x"}, &ResponseInfo{StatusCode: 200}) // must not panic
}

// Each call's lane is a label of the headroom: two values at most, so a
// location has at most two series.
func TestHeadroomHasTheLaneLabel(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m, err := newClientMetrics(mp)
	if err != nil {
		t.Fatal(err)
	}
	r := &request{method: "GET", template: "/x", location: "loc1"}
	m.sent(r, &ResponseInfo{StatusCode: 200, Lane: LaneInteractive, RateLimit: RateLimit{Present: true, Remaining: 40}})
	m.sent(r, &ResponseInfo{StatusCode: 200, Lane: LaneBackground, RateLimit: RateLimit{Present: true, Remaining: 30}})
	m.sent(r, &ResponseInfo{StatusCode: 200, Lane: Lane(7), RateLimit: RateLimit{Present: true, Remaining: 20}})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricRateHeadroom {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				lane, _ := dp.Attributes.Value("lane")
				got[lane.AsString()] = dp.Value
			}
		}
	}
	// An unknown lane value is reported as interactive, LaneOf's default.
	if len(got) != 2 || got["background"] != 30 || got["interactive"] != 20 {
		t.Errorf("headroom by lane = %v, want interactive=20 (the latest), background=30", got)
	}
}

func TestLaneOf(t *testing.T) {
	ctx := context.Background()
	if LaneOf(ctx) != LaneInteractive {
		t.Error("a context without a lane is not interactive")
	}
	if LaneOf(WithLane(ctx, LaneBackground)) != LaneBackground {
		t.Error("WithLane(background) is not background")
	}
	if LaneOf(WithLane(ctx, Lane(9))) != LaneInteractive {
		t.Error("an unknown lane is not read as interactive")
	}
}
