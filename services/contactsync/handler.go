package contactsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// maxRounds bounds the attempts at storing a contact's state that other
// handlers keep changing; then the event is retried later.
const maxRounds = 10

// conflictPause is the most a handler waits, times the round, before it
// plans again the contacts whose state changed under it: handlers racing
// on the same contacts then spread out instead of colliding again.
const conflictPause = 20 * time.Millisecond

// contactStripes is how many stripes the handlers' contacts hash to.
// Merged handlers hold their stripes for as long as their location's pool
// takes (seconds while it is paced), so there are many more than
// bus.DefaultStripes, and four times as many as merging places (192 of
// the 256 post-trigger slots): with a paced location's places all holding
// theirs, another location's contact finds its stripe taken about once in
// a hundred, as with 48 places of 64 slots over 4096 stripes.
const contactStripes = 16384

// handler handles PostEvent.
type handler struct {
	w     *Worker
	store *store
	// locks serialises, inside the replica, the handlers that touch the
	// same contacts: the post triggers whose writes are merged (merge.go)
	// hold their contacts' stripes shared, so that several of them plan
	// the same contact at once and their writes merge, the states'
	// revision checks keeping them right as between replicas; everything
	// else (HighLevel's webhooks and the erasure, reconciliation, tag
	// events, contact references) holds them alone.
	locks *bus.Stripes
	// refs hashes contact references into cache keys (refs.go).
	refs refKeys
	// eraser forgets the contacts HighLevel deleted (forget.go).
	eraser *Eraser
	// merging counts the handlers of paced locations that wait to have
	// their writes merged (merge.go).
	merging *merging
}

// contact is one contact's part in handling an event.
type contact struct {
	id     string
	change tagging.PostChange
	state  tagging.State // as read, at rev
	rev    uint64
	next   tagging.State
	diff   tagging.Diff
	// send is diff less the removals already recorded as made.
	send tagging.Diff
	// skipped are the post's tags left out, each with why.
	skipped []*socialsyncv1.SkippedTag
	// written accumulates the writes of earlier rounds whose state could
	// not be stored because the state had changed meanwhile.
	written tagging.Diff
}

// handle applies a post event to its contacts:
//
//  1. decode and check the event; find the tag names of its tag ids in
//     the catalogue, or wait for the fetcher;
//  2. find the contacts it concerns (tagging.Targets) and read their states;
//  3. plan each contact's tag changes against its stored state, group
//     them into HighLevel calls (tagging.Plan, contacttags.Batch) and send them;
//  4. store each changed contact's new state under a revision check and
//     publish a ContactTagsChanged for every contact of the event, changed
//     or not (the automation worker computes its segments again from it);
//     a contact whose state another replica changed meanwhile is planned
//     again from the fresh state;
//  5. dead-letter, one by one, the contacts HighLevel refused for good,
//     and record the post's contacts.
//
// HighLevel is written before the state is stored. Should the process die
// or NATS fail in between, the redelivered event finds the old state and
// plans the same writes again: adds are sent again, which is harmless
// (adding a tag a contact has changes nothing), but a removal HighLevel
// confirmed is recorded right after (removals.go) and not sent again, so
// that it cannot undo a tag re-added meanwhile. Only a removal whose
// answer was lost (a crash during the call) may be sent twice. A plain
// duplicate finds the new state and writes nothing.
//
// The contacts and tags given up on for good are in the Result, for the
// edge to dead-letter (edge.go).
func (h *handler) handle(ctx context.Context, in delivery) (res Result, err error) {
	ev, loc := in.ev, in.loc
	// The post stands for itself in keys and contact states by its key,
	// its id encoded with its source: the enricher's records use it too.
	post, err := bus.PostKey(ev)
	if err != nil {
		return res, err
	}
	// A paced location's message, or one whose location's writes already
	// wait to be sent, stays to have its contact tag writes merged with
	// the others' (merge.go) while fewer than its share of the handler
	// slots wait so (and its permit is near); otherwise it goes back at
	// once, before any read or lock, so that its backlog costs the other
	// locations nothing. (The route's middleware, bus.Registered, has
	// checked that loc is registered.)
	ctx, leave, err := h.stay(ctx, loc)
	if err != nil {
		return res, err
	}
	defer leave()
	// The location's next merged call waits a moment for this handler's
	// writes (contacttags.Gather).
	defer h.w.merger.Coming(ctx, loc)()
	deleted := ev.GetChange() == socialsyncv1.Change_CHANGE_DELETED
	var names []string
	var skipped []*socialsyncv1.SkippedTag
	if !deleted {
		if names, skipped, err = h.tagNames(ctx, &res, in); err != nil {
			return res, err
		}
	}

	// Contacts named by email, phone or external id (refs.go). A deleted
	// post unlinks the contacts recorded for it, whatever it names.
	listed := slices.Clone(ev.GetContactIds())
	var refs []resolved
	if !deleted {
		if refs, err = h.resolveRefs(ctx, &res, in); err != nil {
			return res, err
		}
		for _, r := range refs {
			listed = append(listed, r.contact)
		}
	}

	var known relations.PostContacts
	indexKey := relations.PostContactsKey(loc, post)
	indexRev, err := h.store.load(ctx, indexKey, &known)
	if err != nil {
		return res, err
	}
	if len(refs) < len(ev.GetContacts()) && !deleted {
		// A reference that found no contact may stand for one the post
		// was linked to: keep those linked rather than remove its tags.
		listed = append(listed, known.ContactIDs...)
	}
	linked, unlinked := tagging.Targets(known.ContactIDs, listed, deleted)
	log := bus.LoggerFrom(ctx)
	if len(linked)+len(unlinked) == 0 {
		log.Debug("post event concerns no contact", "post", ev.GetPostId())
		return res, nil
	}
	var contacts []*contact
	for _, id := range linked {
		contacts = append(contacts, &contact{id: id, change: tagging.PostChange{PostID: post, Tags: names}, skipped: skipped})
	}
	for _, id := range unlinked {
		contacts = append(contacts, &contact{id: id, change: tagging.PostChange{PostID: post, Unlink: true}})
	}
	// A replayed contact's dead letter redoes that contact only: the
	// others were done when the message was first handled. A replayed
	// tag's dead letter redoes the post for every contact: the stored
	// state keeps what was applied before from being written again.
	// A replayed contact reference redoes the contact it names now, or
	// none when it still names none.
	replay := in.replay
	if strings.HasPrefix(replay, "contactref ") {
		replay = "contact "
		for _, r := range refs {
			if r.item == in.replay {
				replay = "contact " + r.contact
			}
		}
	}
	if strings.HasPrefix(replay, "contact ") {
		contacts = slices.DeleteFunc(contacts, func(c *contact) bool { return "contact "+c.id != replay })
	}

	at := h.w.now()
	if ev.GetOccurredAt() != nil {
		at = ev.GetOccurredAt().AsTime()
		// The contacts' changes are ordered by it (tagging.PostChange.At).
		for _, c := range contacts {
			c.change.At = at
		}
	}
	failed, err := h.apply(ctx, loc, postRef{id: ev.GetPostId(), key: post, at: at}, contacts)
	for _, id := range slices.Sorted(maps.Keys(failed)) {
		res.deadLetter("contact "+id, "post "+ev.GetPostId()+": "+failed[id])
	}
	h.forgetRefs(ctx, refs, failed)
	if err != nil {
		return res, err
	}

	// Record the post's contacts, minus those HighLevel refused.
	var now []string
	for _, id := range linked {
		if _, bad := failed[id]; !bad {
			now = append(now, id)
		}
	}
	listAt := known.At
	if ev.GetOccurredAt() != nil {
		listAt = at
	}
	switch {
	case listAt.Before(known.At):
		// Stale: a later event of the post set the list; this one changed
		// none of its contacts either (tagging.PostChange.At).
	case len(now) == 0 && indexRev != 0:
		err = h.store.remove(ctx, indexKey, indexRev)
	case len(now) > 0 && (!slices.Equal(now, known.ContactIDs) || !listAt.Equal(known.At)):
		_, err = h.store.save(ctx, indexKey, relations.PostContacts{ContactIDs: now, At: listAt}, indexRev)
	}
	if errors.Is(err, errConflict) {
		// Another event of the post was handled meanwhile: handle this
		// one again on top of it. Its contacts are done and write nothing.
		return res, fmt.Errorf("contacts of post %s: %w", ev.GetPostId(), err)
	}
	if err != nil || deleted {
		return res, err
	}
	return res, h.copyFields(ctx, loc, ev.GetTagIds(), now)
}

// apply brings contacts to the state the event asks for and returns the
// contacts HighLevel refused, by reason, to be dead-lettered. It
// returns an error when some contacts could not be done; those that were
// are stored, so that the redelivered event does not write them again.
func (h *handler) apply(ctx context.Context, loc string, post postRef, contacts []*contact) (map[string]string, error) {
	keys := make([]string, 0, len(contacts))
	for _, c := range contacts {
		keys = append(keys, relations.ContactKey(loc, c.id))
	}
	// A post trigger whose writes are merged (merge.go) holds its
	// contacts shared with the other such triggers: several events of one
	// contact are planned at once and their writes merge, the revision
	// checks keeping the states right (a contact stored meanwhile is
	// planned again from the fresh state) as between replicas. Other work
	// on the contacts holds them alone (handler.locks).
	if !isMerging(ctx) && ghl.LaneOf(ctx) == ghl.LaneInteractive {
		ctx2, leave, err := h.join(ctx, loc)
		if err != nil {
			return nil, err
		}
		defer leave()
		ctx = ctx2
	}
	lock := h.locks.Lock
	if isMerging(ctx) {
		lock = h.locks.Share
	}
	unlock, err := lock(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer unlock()
	for _, c := range contacts {
		var err error
		if c.state, c.rev, err = h.store.contact(ctx, loc, c.id); err != nil {
			return nil, err
		}
	}
	naming, err := h.naming(ctx, loc)
	if err != nil {
		return nil, err
	}
	failed := map[string]string{}
	pending := contacts
	for round := 1; len(pending) > 0; round++ {
		if round > maxRounds {
			return failed, fmt.Errorf("%s of %s: contact states kept changing during %d attempts", post.why(), loc, maxRounds)
		}
		diffs := map[string]contacttags.Diff{}
		for _, c := range pending {
			c.next, c.diff = tagging.PlanNamed(c.state, c.change, naming, c.written)
			c.send = c.diff
			if len(c.diff.Remove) > 0 {
				// A removal already made for this same state is not
				// sent again (removals.go).
				done, err := h.store.removed(ctx, loc, c.id, c.rev)
				if err != nil {
					return failed, err
				}
				c.send.Remove = without(c.diff.Remove, done)
			}
			if !c.send.Empty() {
				diffs[c.id] = c.send
			}
		}
		// Recorded before they are sent, so that HighLevel's webhook
		// for them is known for socialsync's own (intent.go).
		for _, id := range slices.Sorted(maps.Keys(diffs)) {
			if err := h.store.recordIntent(ctx, loc, id, diffs[id], h.w.now()); err != nil {
				return failed, err
			}
		}
		// Merged with the writes of the location's other handlers
		// (merge.go); each contact's outcome is its own.
		res := h.w.merger.Send(ctx, loc, diffs)

		// Every removal HighLevel confirmed is recorded before any state
		// is stored, so that a crash among the commits of a batch
		// repeats none of them.
		var done []*contact
		records := map[*contact]uint64{}
		for _, c := range pending {
			if reason, bad := res.Failed[c.id]; bad {
				failed[c.id] = reason
				continue
			}
			if res.Incomplete[c.id] {
				continue
			}
			done = append(done, c)
			if len(c.send.Remove) > 0 {
				rev, err := h.store.recordRemoved(ctx, loc, c.id, c.rev, c.send.Remove)
				if err != nil {
					return failed, err
				}
				records[c] = rev
			}
		}
		var retry []*contact
		for _, c := range done {
			recordRev := records[c]
			if h.w.beforeCommit != nil {
				if err := h.w.beforeCommit(c.id); err != nil {
					return failed, err
				}
			}
			conflict, err := h.commit(ctx, loc, post, c)
			if err != nil {
				return failed, err
			}
			if conflict {
				retry = append(retry, c)
				continue
			}
			if recordRev != 0 {
				if err := h.store.forgetRemoved(ctx, loc, c.id, recordRev); err != nil {
					bus.LoggerFrom(ctx).Debug("removal record left", "contact", c.id, "err", err)
				}
			}
		}
		if res.Err != nil {
			return failed, fmt.Errorf("tags of the contacts of %s: %w", post.why(), res.Err)
		}
		pending = retry
		if len(pending) > 0 {
			pause := time.Duration(rand.Int64N(int64(conflictPause) * int64(round)))
			select {
			case <-ctx.Done():
				return failed, ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	return failed, nil
}

// postRef is the post of an event: its id, its key (id with source) and
// when its change happened. A tag event (tagevents.go) has no post: its
// id names the tag change, its key is empty and reason says what it is.
type postRef struct {
	id, key string
	at      time.Time
	reason  string
}

// why is the reason ContactTagsChanged gives for the change.
func (p postRef) why() string {
	if p.reason != "" {
		return p.reason
	}
	return "post " + p.id
}

// commit stores c's next state and publishes its ContactTagsChanged, also
// when its tags did not change: the automation worker computes the
// contact's segments again on each. When another replica changed the
// state since it was read, it reads it again and reports a conflict, for c
// to be planned again.
func (h *handler) commit(ctx context.Context, loc string, post postRef, c *contact) (conflict bool, err error) {
	rev := c.rev
	if !c.next.Equal(c.state) || !c.diff.Empty() {
		c.next.Written = h.w.now()
		rev, err = h.store.save(ctx, relations.ContactKey(loc, c.id), c.next, c.rev)
		if errors.Is(err, errConflict) {
			c.written = c.written.Merge(c.diff)
			if c.state, c.rev, err = h.store.contact(ctx, loc, c.id); err != nil {
				return false, err
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	subject, err := topology.ContactEvents.Subject(loc)
	if err != nil {
		return false, err
	}
	ev := &socialsyncv1.ContactTagsChanged{
		LocationId: loc,
		ContactId:  c.id,
		Added:      c.diff.Add,
		Removed:    c.diff.Remove,
		Reason:     post.why(),
		Timestamp:  timestamppb.New(h.w.now()),
		Skipped:    c.skipped,
		PostKey:    post.key,
	}
	if post.key != "" {
		ev.PostOccurredAt = timestamppb.New(post.at)
	}
	// The id names the state the change was made from: a redelivery that
	// redoes the change (the state was not stored) publishes the same id.
	// A contact left as it was names the revision it found, so that a
	// duplicate finding it so again publishes nothing new.
	verb := "post"
	if rev == c.rev {
		verb = "same"
	}
	id := "contacttags:" + loc + ":" + c.id + ":" + verb + ":" + post.id + ":" + strconv.FormatUint(c.rev, 10)
	if _, err := h.w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
		return false, err
	}
	return false, nil
}

// skippedDeleted is the reason a deleted tag of a post is skipped.
const skippedDeleted = "deleted in Social Planner"

// tagNames returns the names of the event's tag ids and the tags it
// skips, deleted ones, each with why. A tag the catalogue does not hold:
//
//   - when the catalogue was fetched before the event arrived, the
//     catalogue may not know it yet: tagNames asks the fetcher for a
//     refresh and, on the event's first delivery, watches for it for up
//     to FirstCatalogueWait; without it, it returns an *UnknownTagsError, which
//     defers the event;
//   - when the catalogue was fetched after, the tag never existed: it is
//     added to res, to be dead-lettered as an item of the event, and the
//     other tags go on.
func (h *handler) tagNames(ctx context.Context, res *Result, in delivery) ([]string, []*socialsyncv1.SkippedTag, error) {
	names, skipped, err := h.tagNamesNow(ctx, res, in)
	var unknown *UnknownTagsError
	if in.delivered > 1 || !errors.As(err, &unknown) || !h.awaitCatalogue(ctx, in.loc, in.arrived) {
		return names, skipped, err
	}
	return h.tagNamesNow(ctx, res, in)
}

// FirstCatalogueWait is how long the first delivery of an event naming tags
// its location's catalogue lacks waits, in its handler, for the refresh
// it asked for (the fetcher takes milliseconds), before the event is
// deferred (unknownTagRetry): a location's first event usually arrives
// before its first catalogue, and a deferral is only as prompt as the
// consumer's redeliveries, which come after every redelivery due before
// it (seconds behind a paced location's backlog).
const FirstCatalogueWait = time.Second

// awaitCatalogue reports whether loc's catalogue was fetched after
// arrived within FirstCatalogueWait. It watches the catalogue's key; a
// watch that fails (the event is then deferred) is logged.
func (h *handler) awaitCatalogue(ctx context.Context, loc string, arrived time.Time) bool {
	ctx, cancel := context.WithTimeout(ctx, FirstCatalogueWait)
	defer cancel()
	fresh, err := h.store.awaitCatalogue(ctx, loc, arrived)
	if err != nil {
		bus.LoggerFrom(ctx).Warn("cannot watch for the tag catalogue; event deferred", "err", err)
	}
	return fresh
}

// tagNamesNow is tagNames with the catalogue as it is.
func (h *handler) tagNamesNow(ctx context.Context, res *Result, in delivery) ([]string, []*socialsyncv1.SkippedTag, error) {
	ev, loc := in.ev, in.loc
	ids := ev.GetTagIds()
	if len(ids) == 0 {
		return nil, nil, nil
	}
	cat, err := h.store.catalogue(ctx, loc)
	if err != nil {
		return nil, nil, err
	}
	byID, dead := cat.Names(), cat.Tombstones()
	var names, unknown []string
	var skipped []*socialsyncv1.SkippedTag
	skip := func(id, name string) {
		skipped = append(skipped, &socialsyncv1.SkippedTag{TagId: id, TagName: name, Reason: skippedDeleted})
	}
	// goingOn counts and logs the skipped tags once the event is not
	// deferred, so that a deferral does not count them again.
	goingOn := func() ([]string, []*socialsyncv1.SkippedTag, error) {
		for _, sk := range skipped {
			h.w.skippedTags(ctx, loc, sk.GetReason())
			bus.LoggerFrom(ctx).Info("post carries a deleted tag; skipped", "tag", sk.GetTagId(), "post", ev.GetPostId())
		}
		return names, skipped, nil
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		if name, ok := byID[id]; ok {
			names = append(names, name)
			continue
		}
		if name, ok := dead[id]; ok {
			skip(id, name)
			continue
		}
		// The enricher's details may know of a deletion the catalogue
		// has not recorded.
		deleted, err := h.store.deletedTag(ctx, loc, id)
		if err != nil {
			return nil, nil, err
		}
		if deleted {
			skip(id, "")
			continue
		}
		unknown = append(unknown, id)
	}
	if len(unknown) == 0 {
		return goingOn()
	}
	if !cat.FetchedAt.After(in.arrived) {
		if err := h.requestRefresh(ctx, ev, loc, in.seq); err != nil {
			return nil, nil, err
		}
		return nil, nil, &UnknownTagsError{Location: loc, TagIDs: unknown, After: unknownTagRetry(in.delivered)}
	}
	// A catalogue fetched after the event arrived does not hold them, live
	// or deleted: they never existed.
	for _, id := range unknown {
		res.deadLetter("tag "+id, fmt.Sprintf("post %s: %s: the catalogue fetched at %s never held it",
			ev.GetPostId(), ErrUnknownTags, cat.FetchedAt.UTC().Format(time.RFC3339)))
	}
	return goingOn()
}

// requestRefresh asks the fetcher to fetch loc's catalogue again, as a
// post trigger would. Its id names the trigger, so that the deferred
// deliveries of one trigger ask once within the duplicate window.
func (h *handler) requestRefresh(ctx context.Context, ev *socialsyncv1.PostEvent, loc string, seq uint64) error {
	subject, err := topology.CatalogueRefreshes.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	id := "refresh:contactsync:" + loc + ":" + strconv.FormatUint(seq, 10)
	if _, err := h.w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
		return fmt.Errorf("request catalogue refresh of %s: %w", loc, err)
	}
	return nil
}

// validKeyPart reports whether s can be one part of a relations key.
func validKeyPart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "…"
}
