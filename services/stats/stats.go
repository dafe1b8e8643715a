// Package stats is the statistics worker. It reads StatsRequested from
// "socialsync.trigger.stats.<loc>" (durable "stats" on
// SOCIALSYNC_TRIGGERS), lists the location's social accounts, fetches
// their statistics (at most 100 profile ids a call), stores the snapshot
// of the location-local day in the statistics history
// ("socialsync_stats_history", key "<loc>.<YYYY-MM-DD>") and publishes one
// StatsSnapshot per statistics call on "socialsync.event.stats.<loc>".
//
// The daily runs are JetStream message schedules, one per registered
// location, in the location's time zone: the worker keeps them in step
// with the "socialsync_locations" bucket (see schedules.go), and the
// server fires them. There is no scheduler in the worker and no leader:
// every replica reconciles, and the schedule subject keeps one message.
package stats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/stats/core"
)

// Config is the statistics worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"STATS_CONCURRENCY" default:"4" desc:"statistics requests this replica handles at once"`
	// Cron is the daily run, in each location's time zone (see
	// core.CheckSpec for the forms the server accepts).
	Cron string `envconfig:"STATS_CRON" default:"0 0 6 * * *" desc:"when the statistics run fires, in each location's time zone: 6-field cron with seconds first, @daily, @hourly, or @every <duration> (UTC)"`
}

// Worker is the statistics worker.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	log  *slog.Logger
	now  func() time.Time
}

// New returns the worker, after checking its settings.
func New(cfg Config, d *fleet.Deps) (*Worker, error) {
	var errs []error
	if cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_CONCURRENCY: want at least 1, got %d", fleet.ErrConfig, cfg.Concurrency))
	}
	if err := core.CheckSpec(cfg.Cron); err != nil {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_CRON: %v", fleet.ErrConfig, err))
	}
	if d == nil {
		errs = append(errs, errors.New("stats: no dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, deps: d, log: d.Log.With("worker", "stats"), now: time.Now}, nil
}

// Run handles statistics requests and keeps the schedules in step with
// the registered locations until ctx ends; it returns nil then. It fails
// when the consumer cannot run (its durable is gone, the connection is
// closed).
func (w *Worker) Run(ctx context.Context) error {
	history, err := w.deps.JS.KeyValue(ctx, bus.BucketStatsHistory)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketStatsHistory, err)
	}
	locations, err := w.deps.JS.KeyValue(ctx, bus.BucketLocations)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketLocations, err)
	}
	schedules, err := w.deps.JS.Stream(ctx, bus.StreamSchedules)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", bus.StreamSchedules, err)
	}
	h := &handler{w: w, history: history}
	cons, err := w.deps.Consumer(bus.StreamTriggers, bus.DurableStats, h.handle, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	s := &scheduler{w: w, locations: locations, stream: schedules}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return cons.Run(gctx) })
	g.Go(func() error { return s.run(gctx) })
	return g.Wait()
}
