package enricher

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher/enrichment"
)

// handlePost brings the post ↔ tag relations in line with a post event.
func (w *Worker) handlePost(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.PostEvent
	loc, err := bus.DecodePost(msg, &ev)
	if err != nil {
		return err
	}
	u, err := toPostUpdate(&ev)
	if err != nil {
		return err
	}
	return w.applyPost(ctx, loc, u)
}

// applyPost lists the post under the tags the event gives it, and under
// no other, then stores (or deletes) the post's record. The record is
// written last, guarded by its revision: it is what the next event is
// compared with, so a crash before it leaves the event to be applied
// again in full. When another replica stored the record first, the
// event is planned again against it, and the tag lists this round
// touched are brought in line with the outcome, so that a stale event
// that lost the race undoes its own changes.
func (w *Worker) applyPost(ctx context.Context, loc string, u enrichment.PostUpdate) error {
	key := relations.PostKey(loc, u.PostKey)
	var touched []string
	for attempt := 1; ; attempt++ {
		stored, rev, err := w.loadPost(ctx, key)
		if err != nil {
			return err
		}
		plan := enrichment.PlanPost(stored, u, w.now())
		target := make(map[string]bool, len(plan.Target))
		for _, id := range plan.Target {
			target[id] = true
		}
		for _, tag := range append(plan.Check, touched...) {
			if err := w.listPost(ctx, loc, tag, u.PostKey, target[tag]); err != nil {
				return err
			}
		}
		touched = append(touched, plan.Check...)
		if !plan.Write {
			return nil
		}
		if plan.Delete {
			err = w.deps.Relations.Delete(ctx, key, rev)
		} else {
			var data []byte
			if data, err = plan.Record.Marshal(); err != nil {
				return err
			}
			err = w.deps.Relations.Put(ctx, key, data, rev)
		}
		if err == nil || attempt == maxWriteAttempts || !isConflict(err) {
			return err
		}
	}
}

// listPost puts post into tag's post list ("tagposts.<loc>.<tagId>"), or
// takes it out, when it is not already so; an emptied list is deleted.
func (w *Worker) listPost(ctx context.Context, loc, tag, post string, listed bool) error {
	key := relations.TagPostsKey(loc, tag)
	for attempt := 1; ; attempt++ {
		data, rev, err := w.deps.Relations.Get(ctx, key)
		if err != nil {
			return err
		}
		var cur relations.TagPosts
		if data != nil {
			if cur, err = relations.UnmarshalTagPosts(data); err != nil {
				bus.LoggerFrom(ctx).WarnContext(ctx, "stored tag posts unreadable; replacing them", "err", err)
			}
		}
		if cur.Has(post) == listed {
			return nil
		}
		next := cur.Without(post)
		if listed {
			next = cur.With(post)
		}
		switch {
		case len(next.PostIDs) == 0 && rev != 0:
			err = w.deps.Relations.Delete(ctx, key, rev)
		default:
			var b []byte
			if b, err = next.Marshal(); err != nil {
				return err
			}
			err = w.deps.Relations.Put(ctx, key, b, rev)
		}
		if err == nil || attempt == maxWriteAttempts || !isConflict(err) {
			if err != nil {
				return fmt.Errorf("relate post %s to tag %s: %w", post, tag, err)
			}
			return nil
		}
	}
}

// loadPost returns the post record at key (nil when none) and its
// revision. An unreadable record counts as none, to be replaced.
func (w *Worker) loadPost(ctx context.Context, key string) (*relations.PostRecord, uint64, error) {
	data, rev, err := w.deps.Relations.Get(ctx, key)
	if err != nil || data == nil {
		return nil, rev, err
	}
	r, err := relations.UnmarshalPostRecord(data)
	if err != nil {
		bus.LoggerFrom(ctx).WarnContext(ctx, "stored post record unreadable; replacing it", "err", err)
		return nil, rev, nil
	}
	return &r, rev, nil
}

// toPostUpdate converts a checked post event for the domain package.
func toPostUpdate(ev *socialsyncv1.PostEvent) (enrichment.PostUpdate, error) {
	key, err := bus.PostKey(ev)
	if err != nil {
		return enrichment.PostUpdate{}, err
	}
	return enrichment.PostUpdate{
		PostKey:    key,
		Change:     enrichment.PostChange(ev.GetChange()),
		TagIDs:     ev.GetTagIds(),
		OccurredAt: timeOf(ev.GetOccurredAt()),
	}, nil
}
