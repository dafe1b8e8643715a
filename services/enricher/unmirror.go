package enricher

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher/enrichment"
)

// UnmirrorWait is how long after a tag's deletion or rename the enricher
// waits for the contacts carrying its old contact tag to lose it
// (contactsync removes it) before it gives up deleting the location tag.
// A contact still carrying it then had it put on by hand: the location
// tag stays.
const UnmirrorWait = 10 * time.Minute

// unmirrorRetry is the deferral while contacts still carry the tag.
const unmirrorRetry = 15 * time.Second

// recordMirrored notes, under "mirrored.<loc>.<tag>", that the location
// tag id named name was created for social tag tag.
func (w *Worker) recordMirrored(ctx context.Context, loc, tag, name, id string) error {
	return w.updateMirrored(ctx, loc, tag, func(m *relations.MirroredTags) { m.Created[enrichment.ContactTagKey(name)] = id })
}

// updateMirrored applies change to the record of social tag tag, under a
// revision check; an empty record is deleted.
func (w *Worker) updateMirrored(ctx context.Context, loc, tag string, change func(*relations.MirroredTags)) error {
	key := relations.MirroredTagsKey(loc, tag)
	for attempt := 1; ; attempt++ {
		data, rev, err := w.deps.Relations.Get(ctx, key)
		if err != nil {
			return err
		}
		m := relations.MirroredTags{Created: map[string]string{}}
		if data != nil {
			if m, err = relations.UnmarshalMirroredTags(data); err != nil {
				bus.LoggerFrom(ctx).WarnContext(ctx, "mirrored tags record unreadable; replacing it", "err", err)
				m = relations.MirroredTags{Created: map[string]string{}}
			}
		}
		change(&m)
		if len(m.Created) == 0 {
			if rev == 0 {
				return nil
			}
			err = w.deps.Relations.Delete(ctx, key, rev)
		} else {
			var b []byte
			if b, err = m.Marshal(); err != nil {
				return err
			}
			err = w.deps.Relations.Put(ctx, key, b, rev)
		}
		if err == nil || attempt == maxWriteAttempts || !isConflict(err) {
			return err
		}
	}
}

// unmirror deletes the location tags the enricher created for the social
// tag of ev, deleted or renamed, but the one of its new name, and only
// those no contact carries: deleting a location tag takes it off every
// contact. While contacts still carry one (contactsync has not removed it
// yet), the event waits, up to UnmirrorWait after the change; then the
// tag is left to the contacts that carry it, and forgotten.
func (w *Worker) unmirror(ctx context.Context, loc string, ev *socialsyncv1.TagChanged) error {
	tag := ev.GetTagId()
	if !ghl.ValidID(tag) {
		return bus.Permanent(fmt.Errorf("tag event of %s: invalid tag_id %q", loc, tag))
	}
	data, _, err := w.deps.Relations.Get(ctx, relations.MirroredTagsKey(loc, tag))
	if err != nil || data == nil {
		return err
	}
	rec, err := relations.UnmarshalMirroredTags(data)
	if err != nil {
		return nil // nothing known to be ours
	}
	keep := ""
	if ev.GetChange() == socialsyncv1.Change_CHANGE_RENAMED {
		prefix := func(name string) string { return enrichment.ContactTagName(w.cfg.ContactTagPrefix, name) }
		naming, err := w.deps.Naming.ContactTagNaming(ctx, loc, prefix, bus.LoggerFrom(ctx))
		if err != nil {
			return fmt.Errorf("mapping of %s: %w", loc, err)
		}
		keep = enrichment.ContactTagKey(naming(ev.GetTagName()))
	}
	client := w.deps.Client(loc)
	var gone, carried []string
	for _, name := range slices.Sorted(maps.Keys(rec.Created)) {
		if name == keep {
			continue
		}
		res, err := client.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: loc, PageLimit: 1,
			Filters: []ghl.SearchFilter{{Field: "tags", Operator: "eq", Value: name}}})
		if err != nil {
			return fmt.Errorf("contacts carrying %q in %s: %w", name, loc, err)
		}
		if res.Total > 0 || len(res.Contacts) > 0 {
			carried = append(carried, name)
			continue
		}
		if err := client.DeleteLocationTag(ctx, loc, rec.Created[name]); err != nil && !notFound(err) {
			return fmt.Errorf("delete location tag %q of %s: %w", name, loc, err)
		}
		gone = append(gone, name)
	}
	waiting := len(carried) > 0 && w.now().Sub(timeOf(ev.GetTimestamp())) < UnmirrorWait
	if !waiting {
		gone = append(gone, carried...)
		for _, name := range carried {
			bus.LoggerFrom(ctx).InfoContext(ctx, "location tag left: contacts carry it", "tag", tag, "contact_tag", name)
		}
	}
	if err := w.updateMirrored(ctx, loc, tag, func(m *relations.MirroredTags) {
		for _, name := range gone {
			delete(m.Created, name)
		}
	}); err != nil {
		return err
	}
	if waiting {
		return bus.Defer(fmt.Errorf("location tags of tag %s of %s: %d still on contacts", tag, loc, len(carried)), unmirrorRetry)
	}
	return nil
}

// notFound reports whether err is HighLevel saying the location tag does
// not exist (any more): it answers 400 for an unknown tag id.
func notFound(err error) bool {
	var e *ghl.Error
	return errors.As(err, &e) && (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusNotFound)
}
