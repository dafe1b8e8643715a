// Package enricher is the socialsync worker that turns tag details
// requests into stored tag details and mirrored contact tags, and post
// triggers into post ↔ tag relations.
//
// Its durable on SOCIALSYNC_TRIGGERS reads two subjects:
//
//   - socialsync.trigger.tagdetails.<loc> (TagDetailsRequested): it
//     fetches the tags' details 100 ids a call (POST
//     /social-media-posting/<loc>/tags/details), stores each in the
//     socialsync_tag_details bucket under "<loc>.<tagId>", creates the
//     contact tags "<prefix><tag name>" the location's catalogue lacks
//     (GET, then POST /locations/<loc>/tags), and publishes
//     TagDetailsStored on socialsync.event.tagdetails.<loc>;
//   - socialsync.trigger.post.<loc> (PostEvent): it keeps
//     "post.<loc>.<postId>" → the post's tag ids and
//     "tagposts.<loc>.<tagId>" → the tag's post ids in the
//     socialsync_relations bucket.
//
// Its durable on SOCIALSYNC_EVENTS reads socialsync.event.tag.<loc>
// (TagChanged) and marks a deleted tag's stored details deleted; new and
// renamed tags arrive through the fetcher's details requests.
//
// Every write is guarded by the key's revision, so replicas racing on a
// key retry rather than overwrite each other.
package enricher

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Worker is the enricher. Run it with Run.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	now  func() time.Time

	details   jetstream.KeyValue // socialsync_tag_details
	relations jetstream.KeyValue // socialsync_relations
	settings  jetstream.KeyValue // socialsync_settings: the locations' mappings
}

// New returns an enricher on d. It checks cfg and opens the buckets,
// which d's topology declared.
func New(cfg Config, d *fleet.Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d == nil || d.JS == nil || d.Publisher == nil || d.Creds == nil || d.GHL == nil {
		return nil, fmt.Errorf("enricher: incomplete dependencies")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := &Worker{cfg: cfg, deps: d, now: time.Now}
	if err := bus.OpenBuckets(ctx, d.JS, map[string]*jetstream.KeyValue{
		topology.BucketTagDetails: &w.details, topology.BucketRelations: &w.relations, topology.BucketSettings: &w.settings,
	}); err != nil {
		return nil, err
	}
	return w, nil
}

// Run consumes tag details requests, post triggers and tag events until
// ctx ends; it returns nil after an orderly shutdown, in which in-flight
// messages finish or go back to JetStream.
func (w *Worker) Run(ctx context.Context) error {
	triggers, err := w.deps.Consumer(topology.StreamTriggers, topology.DurableEnricher, w.handleTrigger, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	events, err := w.deps.Consumer(topology.StreamEvents, topology.DurableEnricher, w.handleTagEvent, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return triggers.Run(ctx) })
	g.Go(func() error { return events.Run(ctx) })
	return g.Wait()
}

// handleTrigger dispatches a message of the enricher's triggers durable
// by its subject's family.
func (w *Worker) handleTrigger(ctx context.Context, msg jetstream.Msg) error {
	family, _, err := topology.ParseSubject(msg.Subject())
	if err != nil {
		return err
	}
	switch family {
	case topology.TagDetailsTriggers:
		return w.handleDetails(ctx, msg)
	case topology.PostTriggers:
		return w.handlePost(ctx, msg)
	default:
		return bus.Permanent(fmt.Errorf("enricher: no handler for subject family %s", family))
	}
}
