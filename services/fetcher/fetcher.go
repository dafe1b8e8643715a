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
// and one TagDetailsRequested (socialsync.trigger.tagdetails.<loc>) per
// 100 new or renamed tags, then stores the new catalogue. One location is
// fetched at most once per Config.RefreshInterval: an early refresh is
// handed back to JetStream with a delay (see catalogue.RefreshWait).
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

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Worker is the fetcher. Run it with Run.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	now  func() time.Time

	tags      jetstream.KeyValue // socialsync_tags
	relations jetstream.KeyValue // socialsync_relations (poll cursors)
	refreshes jetstream.Stream   // SOCIALSYNC_REFRESH

	// fetching holds the locations whose catalogue this replica is
	// fetching, so that a refresh arriving meanwhile waits rather than
	// fetching the same catalogue twice at once.
	mu       sync.Mutex
	fetching map[string]bool
}

// New returns a fetcher on d. It checks cfg and opens the buckets and the
// refresh stream, which d's topology declared.
func New(cfg Config, d *fleet.Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d == nil || d.JS == nil || d.Publisher == nil || d.Creds == nil || d.GHL == nil {
		return nil, fmt.Errorf("fetcher: incomplete dependencies")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &Worker{cfg: cfg, deps: d, now: time.Now, fetching: make(map[string]bool)}
	if err := bus.OpenBuckets(ctx, d.JS, map[string]*jetstream.KeyValue{topology.BucketTags: &w.tags, topology.BucketRelations: &w.relations}); err != nil {
		return nil, err
	}
	var err error
	if w.refreshes, err = d.JS.Stream(ctx, topology.StreamRefresh); err != nil {
		return nil, fmt.Errorf("open stream %s: %w", topology.StreamRefresh, err)
	}
	return w, nil
}

// Run consumes post triggers and catalogue refreshes, and polls posts
// when the poller is on, until ctx ends; it returns nil after an orderly
// shutdown, in which in-flight messages finish or go back to JetStream.
func (w *Worker) Run(ctx context.Context) error {
	triggers, err := w.deps.Consumer(topology.StreamTriggers, topology.DurableFetcher, w.handleTrigger, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	refreshes, err := w.deps.Consumer(topology.StreamRefresh, topology.DurableFetcher, w.handleRefresh, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return triggers.Run(ctx) })
	g.Go(func() error { return refreshes.Run(ctx) })
	if w.cfg.PollInterval > 0 {
		g.Go(func() error { return w.poll(ctx) })
	}
	return g.Wait()
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
