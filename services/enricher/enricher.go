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

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Worker is the enricher. Its process runs its Routes.
type Worker struct {
	cfg  Config
	deps Deps
	now  func() time.Time
}

// New returns an enricher using d, after checking cfg.
func New(cfg Config, d Deps) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if d.Publisher == nil || d.Locations == nil || d.Client == nil || d.Details == nil || d.Relations == nil || d.Naming == nil {
		return nil, fmt.Errorf("enricher: incomplete dependencies")
	}
	return &Worker{cfg: cfg, deps: d, now: time.Now}, nil
}

// Routes are the enricher's consumers: tag details requests and post
// triggers on its SOCIALSYNC_TRIGGERS durable, tag events on its
// SOCIALSYNC_EVENTS durable.
func (w *Worker) Routes() []bus.Route {
	return []bus.Route{
		{Stream: topology.StreamTriggers, Durable: topology.DurableEnricher, Handler: ratelimit.InLane(ghl.LaneBackground, w.handleTrigger), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamEvents, Durable: topology.DurableEnricher, Handler: ratelimit.InLane(ghl.LaneBackground, w.handleTagEvent), Concurrency: w.cfg.Concurrency},
	}
}

// Loops: the enricher has none.
func (w *Worker) Loops() []run.Loop { return nil }

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
