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

// Worker is what a worker gives its process: the durables it consumes and
// the background loops it runs beside them. Its constructor took the
// narrow interfaces it uses; the process runs the rest (Components).
type Worker interface {
	Routes() []bus.Route
	Loops() []run.Loop
}

// Components returns the components of the worker named name, for Serve:
// a consumer per route ("<name> <durable>@<stream>"), built by Consumer
// with the standard middleware, and each loop ("<name> <loop>").
func (d *Deps) Components(name string, w Worker) ([]Component, error) {
	var out []Component
	for _, r := range w.Routes() {
		c, err := d.consumer(r.Stream, r.Durable, r.Handler, r.Concurrency, !r.AnyState)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Component{Name: fmt.Sprintf("%s %s@%s", name, r.Durable, r.Stream), Run: c.Run})
	}
	for _, l := range w.Loops() {
		out = append(out, Component{Name: name + " " + l.Name, Run: l.Run})
	}
	return out, nil
}

// Consumer returns a consumer of the topology's durable on stream, running
// h with socialsync's standard middleware (trace, log, timeout, and the
// location check: bus.Registered over d.Creds, so a message for a location
// that is not registered is dead-lettered once, unhandled), settling
// through the bus and recording the bus's consumer metrics
// (socialsync_messages_handled_total, socialsync_message_handling_seconds,
// socialsync_dead_letters_total, socialsync_consumer_lag) with the durable
// as the worker label.
func (d *Deps) Consumer(stream, durable string, h bus.Handler, concurrency int) (*bus.Consumer, error) {
	return d.consumer(stream, durable, h, concurrency, true)
}

// consumer is Consumer, without the location and hold checks unless
// checks (a bus.Route with AnyState).
func (d *Deps) consumer(stream, durable string, h bus.Handler, concurrency int, checks bool) (*bus.Consumer, error) {
	spec, ok := d.Topology.Consumer(stream, durable)
	if !ok {
		return nil, fmt.Errorf("no consumer %s on stream %s in the topology", durable, stream)
	}
	mw := []bus.Middleware{
		bus.Trace(d.Telemetry.TracerProvider(), d.Telemetry.Propagator()),
		bus.Log(d.Log.With("consumer", durable, "stream", stream)),
		bus.Timeout(HandlerTimeout),
	}
	if d.registered != nil && checks {
		// Innermost, so that the trace and the log see its refusals; a
		// message for a location that is not registered is dead-lettered
		// before any per-location state is made for it.
		mw = append(mw, d.registered)
	}
	if d.held != nil && checks {
		// After the location check: a paused location's messages wait,
		// its handlers do not run.
		mw = append(mw, d.held.middleware)
	}
	d.durables = append(d.durables, spec)
	return bus.NewConsumer(d.JS, spec, h, bus.ConsumerOptions{
		Concurrency:     concurrency,
		Middleware:      mw,
		ShutdownTimeout: d.Config.ShutdownTimeout,
		RetryHorizon:    d.Config.RetryHorizon,
		CrashLimit:      d.Config.CrashLimit,
		Logger:          d.Log,
		MeterProvider:   d.Telemetry.MeterProvider(),
	})
}

// Component is one named part of a process.
type Component struct {
	Name string
	Run  func(ctx context.Context) error
}

// schemaRefresh is how often a process reads the fleet's schema minimum:
// within it of `socialsync migrate`, every replica writes the new version.
const schemaRefresh = 10 * time.Second

// Serve runs the health server and the components (the consumers and
// loops of every worker of the process, from Components, and any other
// part such as the gateway) in one run group until ctx ends or one fails.
// /readyz answers 503 ("starting") until Serve is called, and names the
// durables built by Consumer that the server does not hold until they have
// been applied. On shutdown
// /readyz turns to draining first, then the components stop (finishing or
// nakking in-flight messages), all within the configured shutdown timeout.
func (d *Deps) Serve(ctx context.Context, components ...Component) error {
	g := run.NewGroup(d.Log, d.Config.ShutdownTimeout+5*time.Second)
	g.OnShutdown(d.Health.SetDraining)
	g.Add("http", d.Health.Run)
	if d.Schema != nil {
		g.Add("schema", func(ctx context.Context) error { return d.Schema.Run(ctx, schemaRefresh) })
	}
	for _, c := range components {
		g.Add(c.Name, c.Run)
	}
	if err := d.awaitTopology(ctx, bus.Topology{Consumers: d.durables}); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the topology
		}
		return err
	}
	d.serving.Store(true)
	return g.Run(ctx)
}
