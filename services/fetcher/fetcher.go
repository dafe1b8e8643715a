// Package fetcher is the socialsync worker that keeps each location's
// Social Planner tag catalogue current.
//
// Its durable on SOCIALSYNC_TRIGGERS reads post triggers
// (socialsync.trigger.post.<loc>), checks them and republishes each to
// socialsync.refresh.catalogue.<loc>. That subject's stream keeps one
// message per location and discards the older, so a burst of triggers
// leaves one pending refresh: JetStream coalesces, nothing in memory does.
//
// Its durable on SOCIALSYNC_REFRESH fetches the catalogue (GET
// /social-media-posting/<loc>/tags, paged), diffs it with the one stored
// in the socialsync_tags bucket, publishes a TagChanged
// (socialsync.event.tag.<loc>) for every created, renamed or deleted tag
// (discovered, for every tag of a location's first catalogue: a baseline)
// and one TagDetailsRequested (socialsync.trigger.tagdetails.<loc>) per
// 100 new, discovered or renamed tags, then stores the new catalogue. One location is
// fetched at most once per Config.RefreshInterval: an early refresh is
// handed back to JetStream with a delay (see catalogue.RefreshWait).
//
// Every Config.CatalogueEvery (15 minutes by default) it also asks for a
// refresh of each location whose catalogue was not fetched meanwhile, so
// that quiet locations notice deleted and renamed tags (periodic.go).
//
// The optional posts poller (Config.PollInterval) lists each registered
// location's posts and publishes a post trigger for every post updated
// since its last poll, since HighLevel sends no Social Planner webhooks.
package fetcher

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Worker is the fetcher. Its process runs its Routes and Loops.
type Worker struct {
	cfg  Config
	deps Deps
	now  func() time.Time

	// fetching holds the locations whose catalogue this replica is
	// fetching, so that a refresh arriving meanwhile waits rather than
	// fetching the same catalogue twice at once.
	mu       sync.Mutex
	fetching map[string]bool
}

// New returns a fetcher using d, after checking cfg.
func New(cfg Config, d Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Publisher == nil || d.Locations == nil || d.Client == nil || d.Catalogues == nil || d.Cursors == nil || d.Refreshes == nil || d.Log == nil {
		return nil, fmt.Errorf("fetcher: incomplete dependencies")
	}
	return &Worker{cfg: cfg, deps: d, now: time.Now, fetching: make(map[string]bool)}, nil
}

// Routes are the fetcher's consumers: post triggers on its
// SOCIALSYNC_TRIGGERS durable, pending refreshes on its SOCIALSYNC_REFRESH
// durable.
func (w *Worker) Routes() []bus.Route {
	return []bus.Route{
		{Stream: topology.StreamTriggers, Durable: topology.DurableFetcher, Handler: ratelimit.InLane(ghl.LaneBackground, w.handleTrigger), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamRefresh, Durable: topology.DurableFetcher, Handler: ratelimit.InLane(ghl.LaneBackground, w.handleRefresh), Concurrency: w.cfg.Concurrency},
	}
}

// Loops are the periodic catalogue refresher, unless
// Config.CatalogueEvery is zero, and the posts poller, when
// Config.PollInterval turns it on. Their HighLevel calls are background
// work (ghl.LaneBackground).
func (w *Worker) Loops() []run.Loop {
	var loops []run.Loop
	background := func(f func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error { return f(ghl.WithLane(ctx, ghl.LaneBackground)) }
	}
	if w.cfg.CatalogueEvery > 0 {
		loops = append(loops, run.Loop{Name: "catalogue refresher", Run: background(w.refreshPeriodically)})
	}
	if w.cfg.PollInterval > 0 {
		loops = append(loops, run.Loop{Name: "poller", Run: background(w.poll)})
	}
	return loops
}

// claim marks loc as being fetched by this replica; false when it
// already is.
func (w *Worker) claim(loc string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fetching[loc] {
		return false
	}
	w.fetching[loc] = true
	return true
}

func (w *Worker) release(loc string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.fetching, loc)
}
