package ratelimit

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The instruments WatchDaily reports, by OpenTelemetry name; the comment
// gives the Prometheus name. Both carry a location label, bounded: only
// the locations this process holds a copy of the budget for (those it
// called within Config.IdleTTL), at most MaxDailySeries of them, the most
// used first. Every process reports the fleet-wide figure as of its last
// read of the budget: alert on the maximum per location.
const (
	// MetricDailyUsed is the requests counted against a location's daily
	// limit in the current UTC day, the fleet's and what HighLevel
	// reported as used by others: socialsync_rate_daily_used{location}.
	MetricDailyUsed = "socialsync.rate.daily_used"
	// MetricDailyLimit is the daily limit in effect for the location
	// (HighLevel's X-RateLimit-Limit-Daily once reported, else
	// Config.Daily): socialsync_rate_daily_limit{location}.
	MetricDailyLimit = "socialsync.rate.daily_limit"
	// MaxDailySeries bounds the locations WatchDaily reports.
	MaxDailySeries = 200
)

// WatchDaily reports, whenever metrics are read from mp, each recently
// called location's use of its daily limit (MetricDailyUsed,
// MetricDailyLimit), until the returned registration is unregistered.
func (g *Governor) WatchDaily(mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter("github.com/socialsync/socialsync/pkg/ratelimit")
	used, err := meter.Int64ObservableGauge(MetricDailyUsed,
		metric.WithDescription("Requests counted against the location's daily HighLevel limit in the current UTC day, fleet-wide; the most used locations."))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: metrics: %w", err)
	}
	limit, err := meter.Int64ObservableGauge(MetricDailyLimit,
		metric.WithDescription("The location's daily HighLevel limit in effect (reported by HighLevel, else configured)."))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: metrics: %w", err)
	}
	return meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, d := range g.daily() {
			attrs := metric.WithAttributes(attribute.String("location", d.loc))
			o.ObserveInt64(used, d.used, attrs)
			o.ObserveInt64(limit, d.limit, attrs)
		}
		return nil
	}, used, limit)
}

type dailyUse struct {
	loc         string
	used, limit int64
}

// daily returns the day's use of the locations this process holds a copy
// of the budget of, at most MaxDailySeries, the most used first.
func (g *Governor) daily() []dailyUse {
	now := micros(g.cfg.Now())
	g.mu.Lock()
	rs := make([]*resource, 0, len(g.resources))
	for _, r := range g.resources {
		rs = append(rs, r)
	}
	g.mu.Unlock()
	out := make([]dailyUse, 0, len(rs))
	for _, r := range rs {
		r.mu.Lock()
		b, ok := r.view, r.viewOK
		r.mu.Unlock()
		if !ok {
			continue
		}
		out = append(out, dailyUse{loc: r.id, used: b.usedOn(now), limit: b.limits(g.lim).daily})
	}
	slices.SortFunc(out, func(a, b dailyUse) int { return cmp.Or(cmp.Compare(b.used, a.used), cmp.Compare(a.loc, b.loc)) })
	return out[:min(len(out), MaxDailySeries)]
}
