package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Group runs a process's components together and stops them together. Add
// the components and the shutdown hooks, then call Run once.
type Group struct {
	log     *slog.Logger
	timeout time.Duration
	comps   []component
	hooks   []func()
}

type component struct {
	name string
	run  func(context.Context) error
}

// NewGroup returns an empty group that logs to log and gives its components
// shutdownTimeout to return once shutdown starts; zero or less waits as long
// as they take.
func NewGroup(log *slog.Logger, shutdownTimeout time.Duration) *Group {
	return &Group{log: log, timeout: shutdownTimeout}
}

// Add registers a component. Run calls run in its own goroutine with a
// context that ends when the group shuts down; run should then return
// promptly, with nil or the context's error. name prefixes the component's
// errors, so it should say what the component is ("http", "fetcher").
func (g *Group) Add(name string, run func(ctx context.Context) error) {
	g.comps = append(g.comps, component{name: name, run: run})
}

// OnShutdown registers fn to be called, in registration order, when
// shutdown starts and before any component's context ends. Server.SetDraining
// belongs here: the process reports not-ready before it stops working.
func (g *Group) OnShutdown(fn func()) {
	g.hooks = append(g.hooks, fn)
}

// Run starts every component and blocks until the group has shut down.
//
// Shutdown starts when ctx ends (pass the context from
// signal.NotifyContext), when a component fails, or when every component has
// returned. It calls the OnShutdown hooks, then ends the components'
// context and waits up to the shutdown timeout for them to return. A
// component returning nil before shutdown simply stops; the others go on.
//
// Run returns the first component failure, wrapped with the component's
// name; a component returning context.Canceled after shutdown started has
// not failed, so an orderly shutdown returns nil. A panic in a component is
// recovered and counts as its failure. When components are still running at
// the timeout, Run returns an error wrapping ErrShutdownTimeout (joined
// with the failure that started the shutdown, if any) and leaves them
// running: the process is expected to exit. Each failure is logged as it
// happens.
func (g *Group) Run(ctx context.Context) error {
	// Components get a context that only the group ends, so the hooks run
	// before any component sees the signal.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	var (
		mu      sync.Mutex
		first   error
		running = make(map[string]int)
		failed  = make(chan struct{})
	)
	for _, c := range g.comps {
		running[c.name]++
	}
	var eg errgroup.Group
	for _, c := range g.comps {
		eg.Go(func() error {
			err := call(cctx, c)
			mu.Lock()
			defer mu.Unlock()
			if running[c.name]--; running[c.name] == 0 {
				delete(running, c.name)
			}
			if err == nil || (errors.Is(err, context.Canceled) && cctx.Err() != nil) {
				return nil
			}
			err = fmt.Errorf("%s: %w", c.name, err)
			g.log.Error("component failed", "err", err)
			if first == nil {
				first = err
				close(failed)
			}
			return err
		})
	}
	done := make(chan struct{})
	go func() {
		_ = eg.Wait() // the first error is kept in first
		close(done)
	}()

	select {
	case <-ctx.Done():
		g.log.Info("shutdown requested")
	case <-failed:
		g.log.Info("shutting down after a failure")
	case <-done:
	}
	for _, fn := range g.hooks {
		fn()
	}
	cancel()

	var timeout <-chan time.Time
	if g.timeout > 0 {
		t := time.NewTimer(g.timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-done:
		mu.Lock()
		defer mu.Unlock()
		return first
	case <-timeout:
		mu.Lock()
		defer mu.Unlock()
		names := make([]string, 0, len(running))
		for name := range running {
			names = append(names, name)
		}
		slices.Sort(names)
		return errors.Join(first, fmt.Errorf("%w after %s: still running: %s",
			ErrShutdownTimeout, g.timeout, strings.Join(names, ", ")))
	}
}

// call runs c, turning a panic into an error.
func call(ctx context.Context, c component) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.run(ctx)
}
