package creds

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The instruments WatchStates reports, by OpenTelemetry name; the comment
// gives the Prometheus name.
const (
	// MetricLocations counts the registered locations by state:
	// socialsync_locations{state}, state one of the State values.
	MetricLocations = "socialsync.locations"
	// MetricNeedsReauth is 1 for each location that needs
	// re-authorisation, labelled with its id (never its name), at most
	// MaxReauthSeries of them, the longest waiting first:
	// socialsync_location_needs_reauth{location}.
	MetricNeedsReauth = "socialsync.location.needs_reauth"
	// MaxReauthSeries bounds the series of MetricNeedsReauth;
	// MetricLocations still counts them all.
	MaxReauthSeries = 200
	// StatesEvery is how long WatchStates reuses one listing of the
	// locations: scrapes in between read no bucket.
	StatesEvery = 30 * time.Second
)

// WatchStates reports, whenever metrics are read from mp, the registered
// locations by state and the ones that need re-authorisation
// (MetricLocations, MetricNeedsReauth), read from the locations bucket at
// most once per StatesEvery. Every process that reports it reports the
// same figures: alert on their maximum.
func (d *Directory) WatchStates(mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter("github.com/socialsync/socialsync/pkg/creds")
	count, err := meter.Int64ObservableGauge(MetricLocations,
		metric.WithDescription("Registered locations, by state (active, needs_reauth, connecting, …)."))
	if err != nil {
		return nil, fmt.Errorf("creds: metrics: %w", err)
	}
	reauth, err := meter.Int64ObservableGauge(MetricNeedsReauth,
		metric.WithDescription("1 for each location that needs re-authorisation (at most 200, the longest waiting first)."))
	if err != nil {
		return nil, fmt.Errorf("creds: metrics: %w", err)
	}
	var (
		mu   sync.Mutex
		at   time.Time
		last []Location
	)
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		mu.Lock()
		defer mu.Unlock()
		if now := d.now(); at.IsZero() || now.Sub(at) >= StatesEvery {
			locs, err := d.Locations(ctx)
			if err != nil {
				return nil // no figure is better than a wrong one; the next read tries again
			}
			at, last = now, locs
		}
		byState := map[State]int64{StateActive: 0, StateNeedsReauth: 0}
		var marked []Location
		for _, l := range last {
			byState[l.State]++
			if l.State == StateNeedsReauth {
				marked = append(marked, l)
			}
		}
		for st, n := range byState {
			o.ObserveInt64(count, n, metric.WithAttributes(attribute.String("state", string(st))))
		}
		slices.SortFunc(marked, func(a, b Location) int {
			return cmp.Or(a.StateSince.Compare(b.StateSince), cmp.Compare(a.ID, b.ID))
		})
		for _, l := range marked[:min(len(marked), MaxReauthSeries)] {
			o.ObserveInt64(reauth, 1, metric.WithAttributes(attribute.String("location", l.ID)))
		}
		return nil
	}, count, reauth)
}
