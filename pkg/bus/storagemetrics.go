package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The storage instruments WatchStorage reports, by OpenTelemetry name;
// the comment gives the Prometheus name. The stream label is a stream
// name: a bucket's stream is "KV_<bucket>", the object store's
// "OBJ_<store>". Every process reports the same figures, read from the
// server; alert on their maximum per stream.
const (
	// MetricStreamBytes is the bytes a stream stores:
	// socialsync_stream_bytes{stream}.
	MetricStreamBytes = "socialsync.stream.bytes"
	// MetricStreamMaxBytes is a stream's MaxBytes, 0 for none:
	// socialsync_stream_max_bytes{stream}.
	MetricStreamMaxBytes = "socialsync.stream.max_bytes"
	// MetricStreamOldest is when the oldest message a stream holds was
	// stored, in Unix seconds, for the streams that hold only unfinished
	// work (interest and work-queue retention: the triggers, the pending
	// refreshes) and only while they hold some:
	// socialsync_stream_oldest_timestamp_seconds{stream}. time() minus it
	// is the age of the oldest trigger some durable has not finished.
	MetricStreamOldest = "socialsync.stream.oldest_timestamp"
)

// StreamNames returns the stream of every stream, bucket and object store
// of t.
func (t Topology) StreamNames() []string {
	var names []string
	for _, s := range t.Streams {
		names = append(names, s.Name)
	}
	for _, kv := range t.KeyValues {
		names = append(names, "KV_"+kv.Bucket)
	}
	for _, o := range t.ObjectStores {
		names = append(names, "OBJ_"+o.Bucket)
	}
	return names
}

// WatchStorage reports, whenever metrics are read from mp, the bytes each
// stream of t stores and its limit (MetricStreamBytes,
// MetricStreamMaxBytes), until the returned registration is unregistered.
// A stream whose info cannot be read is left out of that read.
func (t Topology) WatchStorage(js jetstream.JetStream, mp metric.MeterProvider) (metric.Registration, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	meter := mp.Meter(instrumentationName)
	used, err := meter.Int64ObservableGauge(MetricStreamBytes,
		metric.WithDescription("Bytes stored in the stream (a bucket's stream is KV_<bucket>, the object store's OBJ_<store>)."))
	if err != nil {
		return nil, fmt.Errorf("bus: storage metrics: %w", err)
	}
	limit, err := meter.Int64ObservableGauge(MetricStreamMaxBytes,
		metric.WithDescription("The stream's size limit (MaxBytes) in bytes; 0 for none."))
	if err != nil {
		return nil, fmt.Errorf("bus: storage metrics: %w", err)
	}
	oldest, err := meter.Float64ObservableGauge(MetricStreamOldest, metric.WithUnit("s"),
		metric.WithDescription("Unix time of the oldest message of a stream holding only unfinished work (interest or work-queue retention), while it holds one."))
	if err != nil {
		return nil, fmt.Errorf("bus: storage metrics: %w", err)
	}
	names := t.StreamNames()
	return meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, lagTimeout)
		defer cancel()
		for _, name := range names {
			s, err := js.Stream(ctx, name)
			if err != nil {
				continue // no figure is better than a wrong one
			}
			info := s.CachedInfo()
			attrs := metric.WithAttributes(attribute.String("stream", name))
			o.ObserveInt64(used, int64(info.State.Bytes), attrs)
			o.ObserveInt64(limit, max(info.Config.MaxBytes, 0), attrs)
			if info.Config.Retention != jetstream.LimitsPolicy && info.State.Msgs > 0 && !info.State.FirstTime.IsZero() {
				o.ObserveFloat64(oldest, float64(info.State.FirstTime.UnixNano())/1e9, attrs)
			}
		}
		return nil
	}, used, limit, oldest)
}
