package contactsync

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// CatalogueWait is the longest a tag event waits for the catalogue it
// came from to be stored: the fetcher publishes a catalogue's changes
// before it stores it. Past it the event is applied with its own names.
const CatalogueWait = 10 * time.Minute

// catalogueRetry is the deferral of a tag event whose catalogue is not
// stored yet.
const catalogueRetry = 250 * time.Millisecond

// tagEvent is a decoded TagChanged with what the handler needs of its
// delivery.
type tagEvent struct {
	ev  *socialsyncv1.TagChanged
	loc string
}

// edgeTag adapts handleTag to the bus, as edge does handle.
func (h *handler) edgeTag(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.TagChanged
	loc, err := bus.Decode(msg, &ev)
	if err != nil {
		return err
	}
	res, err := h.handleTag(ctx, tagEvent{ev: &ev, loc: loc})
	if dlErr := h.deadLetter(ctx, msg, res, "tag", ev.GetTagId()); dlErr != nil {
		return dlErr
	}
	return err
}

// handleTag follows a social tag deleted or renamed in Social Planner on
// the contacts socialsync gave it to: the contacts linked to a post the
// tag is listed under (the enricher's "tagposts.<loc>.<tagId>", then
// contactsync's "postcontacts.<loc>.<post>") lose its contact tag, or
// have it under its new name. The writes are planned against each
// contact's stored state and stored after, as a post event's are
// (apply): a contact done is not written again when the event comes back,
// and one whose other posts still carry a tag of that name keeps it.
// Other changes (created, discovered, any later one) need nothing here.
func (h *handler) handleTag(ctx context.Context, in tagEvent) (res Result, err error) {
	ev, loc := in.ev, in.loc
	change := ev.GetChange()
	if change != socialsyncv1.Change_CHANGE_DELETED && change != socialsyncv1.Change_CHANGE_RENAMED {
		return res, nil
	}
	tag := ev.GetTagId()
	if !ghl.ValidID(tag) {
		return res, bus.Permanent(fmt.Errorf("tag event of %s: invalid tag_id %.64q", loc, tag))
	}
	if err := h.w.deps.Pacer.CheckLane(loc, ghl.LaneOf(ctx)); err != nil {
		return res, err
	}
	cat, err := h.store.catalogue(ctx, loc)
	if err != nil {
		return res, err
	}
	observed := ev.GetTimestamp().AsTime()
	if ev.GetTimestamp() != nil && cat.FetchedAt.Before(observed) && h.w.now().Sub(observed) < CatalogueWait {
		// The fetcher publishes a catalogue's changes, then stores it.
		return res, bus.Defer(fmt.Errorf("tag %s of %s: %w", tag, loc, errCatalogueBehind), catalogueRetry)
	}
	retag := &tagging.Retag{Old: nonEmpty(ev.GetTagName(), ev.GetPreviousName())}
	// The catalogue's name wins over the event's: renames handled out of
	// order end on the tag's current name, a deleted tag on none.
	if name, live := cat.Names()[tag]; live {
		retag.New = name
	} else if _, dead := cat.Tombstones()[tag]; !dead && change == socialsyncv1.Change_CHANGE_RENAMED {
		retag.New = ev.GetTagName()
	}
	if retag.Old = slices.DeleteFunc(retag.Old, func(n string) bool { return n == retag.New }); len(retag.Old) == 0 {
		return res, nil
	}

	var listed relations.TagPosts
	if _, err := h.store.load(ctx, relations.TagPostsKey(loc, tag), &listed); err != nil {
		return res, err
	}
	retag.Posts = listed.PostIDs
	ids := map[string]bool{}
	for _, p := range listed.PostIDs {
		var pc relations.PostContacts
		if _, err := h.store.load(ctx, relations.PostContactsKey(loc, p), &pc); err != nil {
			return res, err
		}
		for _, c := range pc.ContactIDs {
			ids[c] = true
		}
	}
	if len(ids) == 0 {
		return res, nil
	}
	verb := "deleted"
	if retag.New != "" {
		verb = "renamed"
	}
	ref := postRef{id: "tag-" + tag + "-" + verb, at: h.w.now(), reason: fmt.Sprintf("tag %s %s", tag, verb)}
	// A chunk at a time: each locks, writes and stores its contacts
	// before the next, so that a restart resumes where the stored states
	// say it stopped.
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(ids)), contacttags.BulkMax) {
		contacts := make([]*contact, 0, len(chunk))
		for _, id := range chunk {
			contacts = append(contacts, &contact{id: id, change: tagging.PostChange{Retag: retag}})
		}
		failed, err := h.apply(ctx, loc, ref, contacts)
		for _, id := range slices.Sorted(maps.Keys(failed)) {
			res.deadLetter("contact "+id, ref.reason+": "+failed[id])
		}
		if err != nil {
			return res, err
		}
	}
	bus.LoggerFrom(ctx).Info("tag change followed on contacts", "tag", tag, "change", verb, "contacts", len(ids))
	return res, nil
}

// nonEmpty returns the non-empty strings of s.
func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(v string) bool { return v == "" })
}
