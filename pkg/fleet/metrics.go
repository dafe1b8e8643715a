package fleet

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// MetricReady is 1 while the process is ready (its /readyz answers 200)
// and 0 otherwise, checked whenever metrics are read: socialsync_ready.
// Prometheus adds the job and instance (pod) labels; a process that is not
// scraped at all shows as up == 0 instead.
const MetricReady = "socialsync.ready"

// watchReady reports MetricReady on d.Telemetry's meter provider.
func (d *Deps) watchReady() error {
	meter := d.Telemetry.MeterProvider().Meter("github.com/socialsync/socialsync/pkg/fleet")
	ready, err := meter.Int64ObservableGauge(MetricReady,
		metric.WithDescription("1 while the process is ready (its /readyz answers 200), 0 while it starts, waits for NATS or the topology, or drains."))
	if err != nil {
		return fmt.Errorf("readiness metric: %w", err)
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		v := int64(0)
		if d.Health.Ready(ctx) {
			v = 1
		}
		o.ObserveInt64(ready, v)
		return nil
	}, ready)
	return err
}
