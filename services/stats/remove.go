package stats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// The removal of a location (docs/lifecycle.md), shared by `socialsync
// locations remove` and the stats worker's DurableRemove route (the
// gateway's DELETE /v1/locations/{loc}): the purge of what socialsync
// applied to the location in HighLevel, through its rate budget, step by
// step from a cursor, then the deletion of its records from every store.

// PurgePage is how many contacts one step of a purge writes before it
// stores its cursor.
const PurgePage = 50

// purgeBulkMin is the least number of contacts losing the same tags from
// which a purge uses HighLevel's bulk endpoint.
const purgeBulkMin = 2

// ErrPurgeStepped is the error of a purge that stopped at the end of a
// step because its Remover's Until passed: its cursor is stored, and the
// next run goes on after it.
var ErrPurgeStepped = errors.New("stats: purge stopped after a step, to go on in a later run")

// Remover removes locations. The CLI builds one on its connection, the
// stats worker on its own.
type Remover struct {
	JS    jetstream.JetStream
	Store *creds.Store
	// Client returns loc's HighLevel client, whose calls go through the
	// location's rate budget (the governor): a paced call is waited for.
	Client func(loc string) *ghl.Client
	Now    func() time.Time
	// Started, when set, is told of a purge's start (resumed: it goes on
	// from a stored cursor); Stepped after each step.
	Started func(run relations.PurgeRun, resumed bool)
	Stepped func(run relations.PurgeRun)
}

// Purge removes from HighLevel every contact tag socialsync applied to
// loc's contacts (their states' applied tags), every segment tag (their
// segment memberships) and the socialsync_* custom values its record
// says it wrote, never a tag or value chosen by its name, through loc's
// rate budget. Its record under relations.PurgeKey is the cursor: a
// purge stopped half way goes on after the last contact it did, and a
// finished one is not done again until it is removed (RemoveState). With
// until set, it stops after the first step that ends past it, with
// ErrPurgeStepped.
func (r *Remover) Purge(ctx context.Context, loc string, until time.Time) (relations.PurgeRun, error) {
	ctx = ghl.WithLane(ctx, ghl.LaneBackground) // nobody waits for a purge's calls
	rel, err := r.JS.KeyValue(ctx, topology.BucketRelations)
	if err != nil {
		return relations.PurgeRun{}, fmt.Errorf("open %s: %w", topology.BucketRelations, err)
	}
	segs, err := r.JS.KeyValue(ctx, topology.BucketSegments)
	if err != nil {
		return relations.PurgeRun{}, fmt.Errorf("open %s: %w", topology.BucketSegments, err)
	}
	var run relations.PurgeRun
	rev, err := revision.Load(ctx, rel, relations.PurgeKey(loc), &run)
	if err != nil {
		return run, err
	}
	if rev != 0 && run.State == relations.PurgeDone {
		return run, nil
	}
	plan, err := purgePlan(ctx, rel, segs, loc)
	if err != nil {
		return relations.PurgeRun{}, err
	}
	client := r.Client(loc)
	now := r.Now().UTC()
	resumed := rev != 0
	if !resumed {
		run = relations.PurgeRun{State: relations.PurgeRunning, StartedAt: now, UpdatedAt: now, Contacts: len(plan.contacts)}
		if rev, err = revision.Save(ctx, rel, relations.PurgeKey(loc), run, rev); err != nil {
			return run, err
		}
	}
	if r.Started != nil {
		r.Started(run, resumed)
	}
	todo := plan.contacts[purgeStart(plan.contacts, run.Cursor):]
	for len(todo) > 0 {
		if !until.IsZero() && r.Now().After(until) {
			return run, ErrPurgeStepped
		}
		page := todo[:min(PurgePage, len(todo))]
		todo = todo[len(page):]
		diffs := map[string]contacttags.Diff{}
		for _, id := range page {
			diffs[id] = contacttags.Diff{Remove: plan.tags[id]}
		}
		res, err := sendPaced(ctx, client, loc, diffs)
		if err != nil {
			return run, fmt.Errorf("purge %s after contact %d of %d: %w", loc, run.Done, run.Contacts, err)
		}
		for _, id := range page {
			if _, gone := res[id]; gone {
				run.Gone++
			} else {
				run.Tags += len(plan.tags[id])
			}
		}
		run.Done += len(page)
		run.Cursor = page[len(page)-1]
		run.UpdatedAt = r.Now().UTC()
		if rev, err = revision.Save(ctx, rel, relations.PurgeKey(loc), run, rev); err != nil {
			return run, fmt.Errorf("purge %s: %w", loc, err)
		}
		if r.Stepped != nil {
			r.Stepped(run)
		}
	}
	n, err := purgeValues(ctx, rel, client, loc)
	if err != nil {
		return run, fmt.Errorf("purge %s: %w", loc, err)
	}
	run.Values += n
	run.State, run.FinishedAt = relations.PurgeDone, r.Now().UTC()
	run.UpdatedAt = run.FinishedAt
	_, err = revision.Save(ctx, rel, relations.PurgeKey(loc), run, rev)
	return run, err
}

// RemoveState deletes loc's records from every store, each through the
// package that owns its keys, and returns how many went. The location
// record goes first, so that the workers stop taking its messages and the
// schedules loop removes its schedule; the purge cursor last. The
// statistics history and reports are deleted with data, else marked for
// the stats worker to delete after their grace period. Run again, it
// deletes what is left.
func (r *Remover) RemoveState(ctx context.Context, loc string, data bool) (int, error) {
	if err := r.Store.Remove(ctx, loc); err != nil {
		return 0, err
	}
	// Its triggers held while it was paused would now be dead letters
	// (not registered): they go. They wait a recheck (a minute) between
	// deliveries, so none is dead-lettered before this.
	held, err := topology.PurgeLocation(ctx, r.JS, loc)
	if err != nil {
		return 0, err
	}
	total := int(held)
	kvs := map[string]jetstream.KeyValue{}
	for _, b := range []string{topology.BucketSettings, topology.BucketTags, topology.BucketTagDetails, topology.BucketRelations,
		topology.BucketSegments, topology.BucketStatsHistory, topology.BucketContactRefs} {
		kv, err := r.JS.KeyValue(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("open %s: %w", b, err)
		}
		kvs[b] = kv
	}
	if err := settings.Remove(ctx, kvs[topology.BucketSettings], loc); err != nil {
		return 0, err
	}
	keys := relations.KeysOf(loc)
	for bucket, patterns := range map[string][]string{
		topology.BucketTags:       keys.Tags,
		topology.BucketTagDetails: keys.Details,
		topology.BucketRelations:  keys.Relations,
		topology.BucketSegments:   {automation.MemberPrefix(loc) + ">"},
		// Contacts named by email, phone or external id: personal data.
		topology.BucketContactRefs: {topology.ContactRefsPattern(loc)},
	} {
		n, err := revision.PurgeMatching(ctx, kvs[bucket], patterns...)
		total += n
		if err != nil {
			return total, err
		}
	}
	history := kvs[topology.BucketStatsHistory]
	if data {
		reports, err := r.JS.ObjectStore(ctx, topology.ObjectStoreReports)
		if err != nil {
			return total, fmt.Errorf("open %s: %w", topology.ObjectStoreReports, err)
		}
		n, err := RemoveData(ctx, history, reports, loc)
		total += n
		if err != nil {
			return total, err
		}
	} else if err := MarkRemoved(ctx, history, loc, r.Now()); err != nil {
		return total, err
	}
	if err := kvs[topology.BucketRelations].Purge(ctx, relations.PurgeKey(loc)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return total, fmt.Errorf("remove purge record of %s: %w", loc, err)
	}
	return total, nil
}

// purgeValues deletes from HighLevel the custom values socialsync's
// record says it wrote for loc (relations.WrittenValues), matched by their
// whole name, and returns how many it deleted. Run again, it finds those
// already deleted gone.
func purgeValues(ctx context.Context, rel jetstream.KeyValue, client *ghl.Client, loc string) (int, error) {
	var written relations.WrittenValues
	if _, err := revision.Load(ctx, rel, relations.WrittenValuesKey(loc), &written); err != nil || len(written.Names) == 0 {
		return 0, err
	}
	existing, err := paced(ctx, func() ([]ghl.CustomValue, error) { return client.CustomValues(ctx, loc) })
	if err != nil {
		return 0, fmt.Errorf("list custom values: %w", err)
	}
	n := 0
	for _, cv := range existing {
		if !slices.Contains(written.Names, strings.ToLower(strings.TrimSpace(cv.Name))) {
			continue
		}
		if _, err := paced(ctx, func() (struct{}, error) { return struct{}{}, client.DeleteCustomValue(ctx, loc, cv.ID) }); err != nil {
			return n, fmt.Errorf("delete custom value %s: %w", cv.Name, err)
		}
		n++
	}
	return n, nil
}

// paced runs call until the location's budget lets it through: a paced
// call (the governor's DeferFor) waits and is tried again; its pacing is
// no failure.
func paced[T any](ctx context.Context, call func() (T, error)) (T, error) {
	for {
		out, err := call()
		if err == nil {
			return out, nil
		}
		again, werr := waitIfPaced(ctx, err)
		if werr != nil {
			return out, werr
		}
		if !again {
			return out, err
		}
	}
}

// waitIfPaced waits out err when it is the governor's pacing (DeferFor)
// and reports true; it reports false for any other error.
func waitIfPaced(ctx context.Context, err error) (bool, error) {
	var p interface{ DeferFor() time.Duration }
	if !errors.As(err, &p) {
		return false, nil
	}
	t := time.NewTimer(max(p.DeferFor(), 10*time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return true, nil
	}
}

// purgeStart returns the index of the first contact after cursor.
func purgeStart(contacts []string, cursor string) int {
	if cursor == "" {
		return 0
	}
	i, found := slices.BinarySearch(contacts, cursor)
	if found {
		i++
	}
	return i
}

// sendPaced sends diffs until every contact is done, waiting for the
// location's budget when the governor asks (its pacing is no failure),
// and returns the contacts HighLevel no longer has.
func sendPaced(ctx context.Context, client contacttags.Tagger, loc string, diffs map[string]contacttags.Diff) (map[string]string, error) {
	gone := map[string]string{}
	for len(diffs) > 0 {
		res := contacttags.Send(ctx, client, loc, contacttags.Batch(diffs, purgeBulkMin, contacttags.BulkMax))
		for id, why := range res.Failed {
			gone[id] = why
		}
		for id := range diffs {
			if !res.Incomplete[id] {
				delete(diffs, id)
			}
		}
		if res.Err == nil {
			continue
		}
		again, err := waitIfPaced(ctx, res.Err)
		if err != nil {
			return gone, err
		}
		if !again {
			return gone, res.Err
		}
	}
	return gone, nil
}

// tagPlan is what a purge removes: per contact, sorted by id, the tags.
type tagPlan struct {
	contacts []string
	tags     map[string][]string
}

// purgePlan reads, from socialsync's own records, the contact tags it
// applied to loc's contacts and the segment tags of their memberships.
func purgePlan(ctx context.Context, rel, segs jetstream.KeyValue, loc string) (tagPlan, error) {
	plan := tagPlan{tags: map[string][]string{}}
	add := func(contact string, tags ...string) {
		for _, t := range tags {
			if !slices.Contains(plan.tags[contact], t) {
				plan.tags[contact] = append(plan.tags[contact], t)
			}
		}
	}
	err := eachRecord(ctx, rel, relations.ContactPrefix(loc), func(contact string, b []byte) error {
		var st relations.ContactState
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("decode contact state %s of %s: %w", contact, loc, err)
		}
		add(contact, st.Applied...)
		return nil
	})
	if err != nil {
		return plan, err
	}
	err = eachRecord(ctx, segs, automation.MemberPrefix(loc), func(contact string, b []byte) error {
		var m automation.Members
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("decode segment membership %s of %s: %w", contact, loc, err)
		}
		for _, s := range m.Segments {
			add(contact, automation.SegmentTag(s))
		}
		return nil
	})
	if err != nil {
		return plan, err
	}
	for id, tags := range plan.tags {
		if len(tags) == 0 {
			delete(plan.tags, id)
			continue
		}
		slices.Sort(tags)
		plan.contacts = append(plan.contacts, id)
	}
	slices.Sort(plan.contacts)
	return plan, nil
}

// eachRecord calls fn with the id after prefix and the value of every
// record of kv under prefix.
func eachRecord(ctx context.Context, kv jetstream.KeyValue, prefix string, fn func(id string, value []byte) error) error {
	keys, err := revision.KeysMatching(ctx, kv, prefix+"*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", kv.Bucket(), err)
	}
	for _, k := range keys {
		b, _, err := revision.Get(ctx, kv, k)
		if err != nil {
			return err
		}
		if b == nil {
			continue // deleted meanwhile
		}
		if err := fn(strings.TrimPrefix(k, prefix), b); err != nil {
			return err
		}
	}
	return nil
}
