package fetcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

const (
	// maxStoreAttempts bounds the diff-and-store rounds of one refresh
	// that lose the race for the catalogue to other replicas.
	maxStoreAttempts = 5
	// minBusyDelay is the least delay of a refresh that found its
	// location's catalogue being fetched by this replica.
	minBusyDelay = 250 * time.Millisecond
	// requestedBy names the fetcher in the tag details requests it sends.
	requestedBy = "fetcher"
)

// handleRefresh handles a pending catalogue refresh: unless a newer
// refresh of the location replaced it, or the catalogue was fetched less
// than RefreshInterval ago (then JetStream redelivers it later), it
// fetches the catalogue, publishes the changes and stores it.
func (w *Worker) handleRefresh(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.PostEvent
	// The refresh carries the trigger that bus.CheckPostEvent accepted
	// when it arrived; the refresh reads only its location, so it is not
	// judged again against the later time of this stream.
	loc, err := bus.Decode(msg, &ev)
	if err != nil {
		return err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("catalogue refresh of %s: %w", loc, err)
	}
	if replaced, err := w.superseded(ctx, msg.Subject(), meta.Sequence.Stream); err != nil {
		return err
	} else if replaced {
		// A newer refresh of the location replaced this one in the
		// stream, or has run already: it covers this one.
		bus.LoggerFrom(ctx).DebugContext(ctx, "catalogue refresh superseded")
		return nil
	}
	if !w.claim(loc) {
		return bus.Defer(fmt.Errorf("refresh catalogue of %s: %w", loc, errFetching), max(w.cfg.RefreshInterval, minBusyDelay))
	}
	defer w.release(loc)
	return w.refresh(ctx, loc, &ev, func() (bool, error) { return w.superseded(ctx, msg.Subject(), meta.Sequence.Stream) })
}

// superseded reports whether the refresh stored at seq on subject is no
// longer the location's pending refresh: the stream's one-per-subject
// limit replaced it with a newer one, which may even have run already.
func (w *Worker) superseded(ctx context.Context, subject string, seq uint64) (bool, error) {
	last, ok, err := w.deps.Refreshes.Last(ctx, subject)
	if err != nil || !ok {
		return !ok, err
	}
	return last > seq, nil
}

// refresh fetches loc's catalogue, publishes what changed since the
// stored one and stores it, paced to one fetch per RefreshInterval.
// replaced reports whether a newer refresh has replaced this one; it is
// asked again just before the fetch, since a slow handler may find its
// refresh replaced by then. A refresh the stored catalogue already covers
// (catalogue.Covers: asked by a post event that occurred before the last
// fetch began and names only tags it found) is done without a fetch.
func (w *Worker) refresh(ctx context.Context, loc string, asked *socialsyncv1.PostEvent, replaced func() (bool, error)) error {
	stored, rev, err := w.deps.Catalogues.Load(ctx, loc)
	if err != nil {
		return err
	}
	var occurred time.Time
	if at := asked.GetOccurredAt(); at != nil {
		occurred = at.AsTime()
	}
	if catalogue.Covers(stored, asked.GetTagIds(), occurred) {
		bus.LoggerFrom(ctx).DebugContext(ctx, "catalogue refresh covered by the last fetch")
		return nil
	}
	if wait := catalogue.RefreshWait(w.now(), stored.FetchedAt, w.cfg.RefreshInterval); wait > 0 {
		return bus.Defer(fmt.Errorf("refresh catalogue of %s: %w for %s", loc, errTooSoon, wait.Round(time.Millisecond)), wait)
	}
	if gone, err := replaced(); err != nil || gone {
		return err
	}
	start := w.now()
	tags, err := w.deps.Client(loc).AllSocialTags(ctx, loc)
	if err != nil {
		return fmt.Errorf("refresh catalogue of %s: %w", loc, err)
	}
	fetched := relations.NewCatalogue(toTags(tags), start)
	listedDeleted := deletedTags(tags)

	for attempt := 1; ; attempt++ {
		// Tombstones carry over from what is stored, so that contactsync
		// can tell a deleted tag from one not fetched yet.
		fetched = fetched.Remember(stored, listedDeleted)
		changes := catalogue.Diff(stored.Tags, fetched.Tags)
		if stored.FetchedAt.IsZero() {
			// The location's first catalogue (or one unreadable, which
			// says as little) is a baseline: its tags are discovered.
			changes = catalogue.Baseline(fetched.Tags)
		}
		// Publish before store. The message ids derive from the stored
		// revision the diff was made against, so a crash (or a failed
		// store) between the two leaves the old catalogue in place, and
		// the redelivered refresh publishes the same ids again, which the
		// duplicate window drops. Storing first would lose the events of
		// a crash between the two for good.
		if err := w.publishChanges(ctx, loc, changes, rev, start); err != nil {
			return err
		}
		err := w.deps.Catalogues.Store(ctx, loc, fetched, rev)
		if err == nil {
			if len(changes) > 0 {
				bus.LoggerFrom(ctx).InfoContext(ctx, "tag catalogue changed", "tags", len(fetched.Tags), "changes", len(changes))
			}
			return nil
		}
		if !errors.Is(err, errConflict) || attempt == maxStoreAttempts {
			return err
		}
		// Another replica stored the catalogue meanwhile: diff again
		// against what it stored, unless its fetch is the later one.
		if stored, rev, err = w.deps.Catalogues.Load(ctx, loc); err != nil {
			return err
		}
		if catalogue.Supersedes(stored, start) {
			return nil
		}
	}
}

// publishChanges publishes a TagChanged per change and a
// TagDetailsRequested per batch of new, discovered or renamed tags, with message ids
// derived from the location, the change and rev, the catalogue revision
// the changes were computed against.
func (w *Worker) publishChanges(ctx context.Context, loc string, changes []catalogue.Change, rev uint64, observed time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	tagSubject, err := topology.TagEvents.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	for _, c := range changes {
		id := fmt.Sprintf("tagchanged:%s:%s:%s:%d", loc, c.Tag.ID, c.Kind, rev)
		if _, err := w.deps.Publisher.Publish(ctx, tagSubject, toTagChanged(loc, c, observed), bus.WithMsgID(id)); err != nil {
			return fmt.Errorf("publish %s change of tag %s: %w", c.Kind, c.Tag.ID, err)
		}
	}
	detailsSubject, err := topology.TagDetailsTriggers.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	for i, batch := range slices.Collect(slices.Chunk(catalogue.DetailsWanted(changes), ghl.TagDetailsBatch)) {
		req := &socialsyncv1.TagDetailsRequested{
			LocationId:  loc,
			TagIds:      batch,
			RequestedBy: requestedBy,
			EventId:     fmt.Sprintf("tagdetails:%s:%d:%d", loc, rev, i),
		}
		if _, err := w.deps.Publisher.Publish(ctx, detailsSubject, req); err != nil {
			return fmt.Errorf("request details of %d tags: %w", len(batch), err)
		}
	}
	return nil
}

// toTags converts HighLevel's tags, leaving out deleted ones.
func toTags(in []ghl.SocialTag) []relations.Tag {
	out := make([]relations.Tag, 0, len(in))
	for _, t := range in {
		if t.Deleted {
			continue
		}
		out = append(out, relations.Tag{ID: t.ID, Name: t.Tag})
	}
	return out
}

// deletedTags returns the tags HighLevel listed as deleted.
func deletedTags(in []ghl.SocialTag) []relations.Tag {
	var out []relations.Tag
	for _, t := range in {
		if t.Deleted {
			out = append(out, relations.Tag{ID: t.ID, Name: t.Tag})
		}
	}
	return out
}

// toTagChanged converts a change into its event.
func toTagChanged(loc string, c catalogue.Change, observed time.Time) *socialsyncv1.TagChanged {
	ev := &socialsyncv1.TagChanged{
		LocationId:   loc,
		TagId:        c.Tag.ID,
		TagName:      c.Tag.Name,
		Timestamp:    timestamppb.New(observed),
		PreviousName: c.PreviousName,
	}
	switch c.Kind {
	case catalogue.Created:
		ev.Change = socialsyncv1.Change_CHANGE_CREATED
	case catalogue.Renamed:
		ev.Change = socialsyncv1.Change_CHANGE_RENAMED
	case catalogue.Deleted:
		ev.Change = socialsyncv1.Change_CHANGE_DELETED
	case catalogue.Discovered:
		ev.Change = socialsyncv1.Change_CHANGE_DISCOVERED
	}
	return ev
}
