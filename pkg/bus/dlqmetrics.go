package bus

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// MetricDeadLettersStored is the dead letters SOCIALSYNC_DLQ holds for a
// location (every worker's; "_invalid" for messages that named none), at
// most MaxDeadLetterSeries locations, the most first:
// socialsync_dead_letters_stored{location}. Unlike
// socialsync_dead_letters_total it falls when dead letters are replayed or
// age out. Every process reports the same figures: alert on the maximum.
const MetricDeadLettersStored = "socialsync.dead_letters.stored"

// MaxDeadLetterSeries bounds the locations MetricDeadLettersStored reports.
const MaxDeadLetterSeries = 200

// WatchDeadLetters reports MetricDeadLettersStored whenever metrics are
// read from mp, counted by the server per subject (stream info, no message
// read), until the returned registration is unregistered.
func WatchDeadLetters(js jetstream.JetStream, mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter(instrumentationName)
	stored, err := meter.Int64ObservableGauge(MetricDeadLettersStored,
		metric.WithDescription("Dead letters held in SOCIALSYNC_DLQ per location (the 200 locations with the most)."))
	if err != nil {
		return nil, fmt.Errorf("bus: dead-letter metrics: %w", err)
	}
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, lagTimeout)
		defer cancel()
		bySubject, _, err := CountDeadLetters(ctx, js, DeadLetterFilter("", ""))
		if err != nil {
			return nil // no figure is better than a wrong one
		}
		for _, l := range deadLettersByLocation(bySubject) {
			o.ObserveInt64(stored, int64(l.n), metric.WithAttributes(attribute.String("location", l.loc)))
		}
		return nil
	}, stored)
}

type locationCount struct {
	loc string
	n   uint64
}

// deadLettersByLocation adds up the counts of "socialsync.dlq.<worker>.<loc>"
// subjects per location: at most MaxDeadLetterSeries, the most first.
func deadLettersByLocation(bySubject map[string]uint64) []locationCount {
	sums := map[string]uint64{}
	for subject, n := range bySubject {
		if i := strings.LastIndexByte(subject, '.'); i >= 0 {
			sums[subject[i+1:]] += n
		}
	}
	out := make([]locationCount, 0, len(sums))
	for loc, n := range sums {
		out = append(out, locationCount{loc, n})
	}
	slices.SortFunc(out, func(a, b locationCount) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.loc, b.loc)) })
	return out[:min(len(out), MaxDeadLetterSeries)]
}
