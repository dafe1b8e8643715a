package ghl

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The instruments a Client records when Options.MeterProvider is set, by
// OpenTelemetry name; the comment gives the Prometheus name and labels.
const (
	// MetricCalls counts the requests sent to HighLevel, retries included:
	// socialsync_ghl_calls_total{endpoint,status}. endpoint is the method
	// and route template ("GET /social-media-posting/{locationId}/tags"),
	// never a path with ids; status is the HTTP status code, or "error"
	// when no response arrived.
	MetricCalls = "socialsync.ghl.calls"
	// MetricRateLimited counts 429 answers by location (or company, for
	// agency calls): socialsync_ghl_rate_limited_total{location}.
	MetricRateLimited = "socialsync.ghl.rate_limited"
	// MetricRateHeadroom is the X-RateLimit-Remaining of the latest
	// response for each location and lane (Lane: "interactive" or
	// "background"): socialsync_rate_headroom{location,lane}. Only
	// locations called within HeadroomTTL are reported, and at most
	// MaxHeadroomSeries series, the lowest first, so the series stay
	// bounded however many locations the fleet serves.
	MetricRateHeadroom = "socialsync.rate.headroom"
	// MetricRateDailyRemaining is the X-RateLimit-Daily-Remaining of the
	// latest response for each location: the calls HighLevel still takes
	// before its daily reset, socialsync_rate_daily_remaining{location},
	// bounded as MetricRateHeadroom is.
	MetricRateDailyRemaining = "socialsync.rate.daily_remaining"
)

// Bounds of MetricRateHeadroom.
const (
	HeadroomTTL       = 2 * time.Minute
	MaxHeadroomSeries = 200
)

// clientMetrics are a Client's instruments, shared with its ForLocation
// views. A nil *clientMetrics records nothing.
type clientMetrics struct {
	calls    metric.Int64Counter
	limited  metric.Int64Counter
	headroom metric.Int64ObservableGauge
	daily    metric.Int64ObservableGauge

	mu   sync.Mutex
	seen map[laned]headroom
	// days are the daily remaining of each location.
	days map[string]headroom
	now  func() time.Time
}

// laned names a headroom series: a location and a lane.
type laned struct {
	loc  string
	lane Lane
}

type headroom struct {
	remaining int
	at        time.Time
}

// newClientMetrics creates the instruments on mp, or returns nil when mp
// is nil. The headroom callback lives as long as the process.
func newClientMetrics(mp metric.MeterProvider) (*clientMetrics, error) {
	if mp == nil {
		return nil, nil
	}
	meter := mp.Meter(instrumentationName)
	m := &clientMetrics{seen: map[laned]headroom{}, days: map[string]headroom{}, now: time.Now}
	var err error
	if m.calls, err = meter.Int64Counter(MetricCalls,
		metric.WithDescription("Requests sent to HighLevel, retries included, by endpoint (method and route template) and status.")); err != nil {
		return nil, err
	}
	if m.limited, err = meter.Int64Counter(MetricRateLimited,
		metric.WithDescription("429 answers from HighLevel, by location.")); err != nil {
		return nil, err
	}
	if m.headroom, err = meter.Int64ObservableGauge(MetricRateHeadroom,
		metric.WithDescription("Requests left in HighLevel's rate window (X-RateLimit-Remaining of the latest response), "+
			"for the locations called recently, the lowest first.")); err != nil {
		return nil, err
	}
	if m.daily, err = meter.Int64ObservableGauge(MetricRateDailyRemaining,
		metric.WithDescription("Requests left in HighLevel's day (X-RateLimit-Daily-Remaining of the latest response), "+
			"for the locations called recently, the lowest first.")); err != nil {
		return nil, err
	}
	if _, err = meter.RegisterCallback(m.observe, m.headroom, m.daily); err != nil {
		return nil, err
	}
	return m, nil
}

// sent records one request that was sent; info.StatusCode is 0 when no
// response came back.
func (m *clientMetrics) sent(r *request, info *ResponseInfo) {
	if m == nil {
		return
	}
	ctx := context.Background()
	status := "error"
	if info.StatusCode != 0 {
		status = strconv.Itoa(info.StatusCode)
	}
	m.calls.Add(ctx, 1, metric.WithAttributes(
		attribute.String("endpoint", r.method+" "+r.template), attribute.String("status", status)))
	res := r.resource()
	if res == "" {
		return
	}
	if info.StatusCode == 429 {
		m.limited.Add(ctx, 1, metric.WithAttributes(attribute.String("location", res)))
	}
	if r.location != "" && info.RateLimit.Present {
		m.mu.Lock()
		lane := info.Lane
		if lane > LaneBackground {
			lane = LaneInteractive // as LaneOf reads it: two label values at most
		}
		m.seen[laned{r.location, lane}] = headroom{remaining: info.RateLimit.Remaining, at: m.now()}
		if info.RateLimit.DailyLimit > 0 {
			m.days[r.location] = headroom{remaining: info.RateLimit.DailyRemaining, at: m.now()}
		}
		m.mu.Unlock()
	}
}

// observe reports the headroom of the locations called within
// HeadroomTTL, at most MaxHeadroomSeries of them, the lowest first, and
// forgets the others.
func (m *clientMetrics) observe(_ context.Context, o metric.Observer) error {
	type entry struct {
		laned
		headroom
	}
	cutoff := m.now().Add(-HeadroomTTL)
	m.mu.Lock()
	entries := make([]entry, 0, len(m.seen))
	for k, h := range m.seen {
		if h.at.Before(cutoff) {
			delete(m.seen, k)
			continue
		}
		entries = append(entries, entry{k, h})
	}
	type day struct {
		loc string
		headroom
	}
	days := make([]day, 0, len(m.days))
	for loc, h := range m.days {
		if h.at.Before(cutoff) {
			delete(m.days, loc)
			continue
		}
		days = append(days, day{loc, h})
	}
	m.mu.Unlock()
	slices.SortFunc(days, func(a, b day) int {
		return cmp.Or(cmp.Compare(a.remaining, b.remaining), cmp.Compare(a.loc, b.loc))
	})
	for _, d := range days[:min(len(days), MaxHeadroomSeries)] {
		o.ObserveInt64(m.daily, int64(d.remaining), metric.WithAttributes(attribute.String("location", d.loc)))
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.remaining, b.remaining), cmp.Compare(a.loc, b.loc), cmp.Compare(a.lane, b.lane))
	})
	for _, e := range entries[:min(len(entries), MaxHeadroomSeries)] {
		o.ObserveInt64(m.headroom, int64(e.remaining), metric.WithAttributes(
			attribute.String("location", e.loc), attribute.String("lane", e.lane.String())))
	}
	return nil
}
