package fleet

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/run"
)

// HandlerTimeout bounds one message's handling.
const HandlerTimeout = 2 * time.Minute

// Consumer returns a consumer of the topology's durable on stream, running
// h with socialsync's standard middleware (trace, log, timeout), settling
// through the bus and counting outcomes in the
// socialsync.messages.settled metric.
func (d *Deps) Consumer(stream, durable string, h bus.Handler, concurrency int) (*bus.Consumer, error) {
	spec, ok := d.Topology.Consumer(stream, durable)
	if !ok {
		return nil, fmt.Errorf("no consumer %s on stream %s in the topology", durable, stream)
	}
	return bus.NewConsumer(d.JS, spec, h, bus.ConsumerOptions{
		Concurrency: concurrency,
		Middleware: []bus.Middleware{
			bus.Trace(d.Telemetry.TracerProvider(), d.Telemetry.Propagator()),
			bus.Log(d.Log.With("consumer", durable, "stream", stream)),
			bus.Timeout(HandlerTimeout),
		},
		ShutdownTimeout: d.Config.ShutdownTimeout,
		Logger:          d.Log,
		OnSettle: func(o bus.Outcome) {
			d.settled.Add(context.Background(), 1, metric.WithAttributes(
				attribute.String("worker", durable),
				attribute.String("stream", stream),
				attribute.String("action", o.Decision.Action.String()),
				attribute.String("class", o.Decision.Class.String()),
			))
		},
	})
}

// Component is one named part of a process.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Serve runs the health server and the components until ctx ends or one
// fails: on shutdown /readyz turns to draining first, then the components
// stop (finishing or nakking in-flight messages), all within the
// configured shutdown timeout.
func (d *Deps) Serve(ctx context.Context, components ...Component) error {
	g := run.NewGroup(d.Log, d.Config.ShutdownTimeout+5*time.Second)
	g.OnShutdown(d.Health.SetDraining)
	g.Add("http", d.Health.Run)
	for _, c := range components {
		g.Add(c.Name, c.Run)
	}
	return g.Run(ctx)
}
