package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/run"
)

// HandlerTimeout bounds one message's handling.
const HandlerTimeout = 2 * time.Minute

// Consumer returns a consumer of the topology's durable on stream, running
// h with socialsync's standard middleware (trace, log, timeout), settling
// through the bus and recording the bus's consumer metrics
// (socialsync_messages_handled_total, socialsync_message_handling_seconds,
// socialsync_dead_letters_total, socialsync_consumer_lag) with the durable
// as the worker label. A message for a location that is not registered
// (d.Creds) is dead-lettered once, unhandled (bus.ErrUnknownLocation).
func (d *Deps) Consumer(stream, durable string, h bus.Handler, concurrency int) (*bus.Consumer, error) {
	spec, ok := d.Topology.Consumer(stream, durable)
	if !ok {
		return nil, fmt.Errorf("no consumer %s on stream %s in the topology", durable, stream)
	}
	var locations bus.Registry
	if d.Creds != nil {
		locations = d.Creds
	}
	return bus.NewConsumer(d.JS, spec, h, bus.ConsumerOptions{
		Concurrency: concurrency,
		Middleware: []bus.Middleware{
			bus.Trace(d.Telemetry.TracerProvider(), d.Telemetry.Propagator()),
			bus.Log(d.Log.With("consumer", durable, "stream", stream)),
			bus.Timeout(HandlerTimeout),
		},
		ShutdownTimeout: d.Config.ShutdownTimeout,
		RetryHorizon:    d.Config.RetryHorizon,
		CrashLimit:      d.Config.CrashLimit,
		Logger:          d.Log,
		MeterProvider:   d.Telemetry.MeterProvider(),
		// A message for a location that is not registered is dead-lettered
		// before any per-location state is made for it.
		Locations: locations,
	})
}

// Component is one named part of a process.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// Serve runs the health server and the components until ctx ends or one
// fails. /readyz answers 503 ("starting") until Serve is called. On
// shutdown /readyz turns to draining first, then the components stop (finishing or nakking in-flight messages), all within the
// configured shutdown timeout.
func (d *Deps) Serve(ctx context.Context, components ...Component) error {
	g := run.NewGroup(d.Log, d.Config.ShutdownTimeout+5*time.Second)
	g.OnShutdown(d.Health.SetDraining)
	g.Add("http", d.Health.Run)
	for _, c := range components {
		g.Add(c.Name, c.Run)
	}
	d.serving.Store(true)
	return g.Run(ctx)
}
