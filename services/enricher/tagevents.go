package enricher

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher/enrichment"
)

// handleTagEvent marks the stored details of a deleted tag deleted, with
// no call to HighLevel. Other tag changes need nothing here: the fetcher
// asks for the details of new and renamed tags.
func (w *Worker) handleTagEvent(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.TagChanged
	loc, err := bus.Decode(msg, &ev)
	if err != nil {
		return err
	}
	return w.applyTagEvent(ctx, loc, &ev)
}

// applyTagEvent marks the stored details of the tag ev deleted, if it is
// a deletion, and, with the location-tag mirror on, deletes the location
// tags it created for a deleted or renamed tag that no contact carries
// (unmirror.go).
func (w *Worker) applyTagEvent(ctx context.Context, loc string, ev *socialsyncv1.TagChanged) error {
	if ev.GetChange() == socialsyncv1.Change_CHANGE_RENAMED && w.cfg.MirrorLocationTags {
		return w.unmirror(ctx, loc, ev)
	}
	if ev.GetChange() != socialsyncv1.Change_CHANGE_DELETED {
		return nil
	}
	if err := w.markDeleted(ctx, loc, ev); err != nil || !w.cfg.MirrorLocationTags {
		return err
	}
	return w.unmirror(ctx, loc, ev)
}

// markDeleted marks the stored details of the deleted tag ev deleted.
func (w *Worker) markDeleted(ctx context.Context, loc string, ev *socialsyncv1.TagChanged) error {
	if !ghl.ValidID(ev.GetTagId()) {
		return bus.Permanent(fmt.Errorf("tag deleted in %s: invalid tag_id %q", loc, ev.GetTagId()))
	}
	key := relations.DetailsKey(loc, ev.GetTagId())
	for attempt := 1; ; attempt++ {
		stored, rev, err := w.loadDetail(ctx, key)
		if err != nil || stored == nil {
			return err // nil when no details were stored
		}
		d, changed := enrichment.MarkDeleted(*stored, timeOf(ev.GetTimestamp()))
		if !changed {
			return nil
		}
		data, err := protojson.Marshal(fromDetail(d))
		if err != nil {
			return fmt.Errorf("encode details of tag %s: %w", d.ID, err)
		}
		err = w.deps.Details.Put(ctx, key, data, rev)
		if err == nil || attempt == maxWriteAttempts || !isConflict(err) {
			return err
		}
	}
}
