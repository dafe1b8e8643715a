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

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Config is the statistics worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"STATS_CONCURRENCY" default:"4" desc:"statistics requests this replica handles at once"`
	// Cron is the daily run, in each location's time zone (see
	// settings.CheckSpec for the forms the server accepts).
	Cron string `envconfig:"STATS_CRON" default:"0 0 6 * * *" desc:"when the statistics run fires, in each location's time zone: 6-field cron with seconds first, @daily, @hourly, or @every <duration> (UTC); a location's setting overrides it"`
	// RetentionDays is how long the history keeps a day.
	RetentionDays int `envconfig:"STATS_RETENTION_DAYS" default:"400" desc:"days of statistics history kept per location, older snapshots are pruned after each run (0: kept forever); a location's setting overrides it"`
	// ReportDays is the period the report and recommendations of each
	// run cover, ending the day before the run.
	ReportDays int `envconfig:"STATS_REPORT_DAYS" default:"28" desc:"days the report and recommendations stored after each run cover, ending the day before"`
	// AudienceByPlatform asks, for a location with several platforms,
	// one more statistics call per platform, whose demographics are that
	// platform's alone.
	AudienceByPlatform bool `envconfig:"STATS_AUDIENCE_BY_PLATFORM" default:"true" desc:"fetch each platform's demographics (one more statistics call per platform) for the audience recommendations"`
	// CustomValues writes the recommendations and the mapped statistics
	// to the location's custom values.
	CustomValues bool `envconfig:"STATS_CUSTOM_VALUES" default:"true" desc:"write recommendations (socialsync_*) and mapped statistics to the location's custom values"`
	// RemovedGrace is how long a removed location's statistics history
	// and reports are kept (removed.go).
	RemovedGrace time.Duration `envconfig:"STATS_REMOVED_GRACE" default:"720h" desc:"how long the statistics history and reports of a removed location are kept before they are deleted (socialsync locations remove --purge-data deletes them at once)"`
}

// Worker is the statistics worker. Its process runs its Routes and Loops.
type Worker struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
}

// New returns the worker using d, after checking its settings.
func New(cfg Config, d Deps) (*Worker, error) {
	var errs []error
	if cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_CONCURRENCY: want at least 1, got %d", fleet.ErrConfig, cfg.Concurrency))
	}
	if err := settings.CheckSpec(cfg.Cron); err != nil {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_CRON: %v", fleet.ErrConfig, err))
	}
	if cfg.RetentionDays < 0 || cfg.RetentionDays > settings.MaxRetentionDays {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_RETENTION_DAYS: want 0 (forever) to %d, got %d", fleet.ErrConfig, settings.MaxRetentionDays, cfg.RetentionDays))
	}
	if cfg.ReportDays < 1 || cfg.ReportDays > report.MaxDays {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_REPORT_DAYS: want 1 to %d, got %d", fleet.ErrConfig, report.MaxDays, cfg.ReportDays))
	}
	if d.Publisher == nil || d.Locations == nil || d.Client == nil || d.History == nil || d.FollowUps == nil || d.Log == nil {
		errs = append(errs, errors.New("stats: incomplete dependencies"))
	}
	if cfg.RemovedGrace < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_STATS_REMOVED_GRACE: want a duration of zero or more, got %v", fleet.ErrConfig, cfg.RemovedGrace))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, deps: d, log: d.Log.With("worker", "stats"), now: time.Now}
	if d.Connector != nil {
		c := *d.Connector
		c.Agency = w.keepAgencySchedule
		w.deps.Connector = &c
	}
	return w, nil
}

// SetClock makes w read the time from now instead of the real clock: the
// day a snapshot belongs to, its taking time and the reports' generation
// time. Deadlines and the schedules keep the real clock. Call it before
// the process runs the worker.
func (w *Worker) SetClock(now func() time.Time) { w.now = now }

// learnTimeout bounds the reading of one location's details from
// HighLevel.
const learnTimeout = 30 * time.Second

// learn returns l with the name and time zone HighLevel gives it, when l
// still needs them (creds.Location.NeedsDetails): the time zone cuts its
// days and places its schedule. A failure is logged and l is returned as
// it is (UTC without a time zone); the next change of its record, or the
// next start of the worker, asks again.
func (w *Worker) learn(ctx context.Context, l creds.Location) creds.Location {
	if !l.NeedsDetails() {
		return l
	}
	// Bounded: the schedules' watch waits for it, for every location.
	ctx, cancel := context.WithTimeout(ctx, learnTimeout)
	defer cancel()
	learned, err := w.deps.Locations.LearnDetails(ctx, l.ID, w.deps.Client(l.ID))
	if err != nil {
		w.log.Warn("location's time zone not read from HighLevel; using what the location has", "location", l.ID, "err", err)
		return l
	}
	if _, off := learned.FeatureDisabled(creds.FeatureLocationDetails); off && learned.Timezone == "" {
		w.log.Warn("the location's token lacks locations.readonly: its statistics run in UTC until it is connected again or given a time zone", "location", l.ID)
	}
	return learned
}

// Routes are the worker's consumers on SOCIALSYNC_TRIGGERS: statistics
// requests, agency syncs and location removals (which run whatever the
// location's state: it is paused while it is removed).
func (w *Worker) Routes() []bus.Route {
	h := &handler{w: w}
	a := &agencyHandler{w: w}
	r := &removalHandler{w: w}
	return []bus.Route{{Stream: topology.StreamTriggers, Durable: topology.DurableStats, Handler: ratelimit.InLane(ghl.LaneBackground, h.handle), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamTriggers, Durable: topology.DurableAgency, Handler: ratelimit.InLane(ghl.LaneBackground, a.handle), Concurrency: 1},
		{Stream: topology.StreamTriggers, Durable: topology.DurableRemove, Handler: ratelimit.InLane(ghl.LaneBackground, r.handle), Concurrency: 1, AnyState: true}}
}

// Loops keep the schedules in step with the registered locations and
// their settings.
func (w *Worker) Loops() []run.Loop {
	s := &scheduler{w: w, locations: w.deps.Stores.Locations, stream: w.deps.Stores.Schedules, settings: w.deps.Stores.Settings}
	loops := []run.Loop{{Name: "schedules", Run: s.run}, {Name: "removed", Run: w.sweepRemoved}}
	if c := w.deps.Connector; c != nil && w.deps.Conn != nil {
		loops = append(loops, run.Loop{Name: "oauth", Run: func(ctx context.Context) error { return c.Serve(ctx, w.deps.Conn) }},
			run.Loop{Name: "agency schedules", Run: w.keepAgencySchedules})
	}
	if srv := w.deps.Doctor; srv != nil && w.deps.Conn != nil {
		loops = append(loops, run.Loop{Name: "console", Run: func(ctx context.Context) error { return srv.Serve(ctx, w.deps.Conn) }})
	}
	return loops
}
