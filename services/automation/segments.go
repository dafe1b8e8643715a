package automationworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// recomputeChunk is how many contacts are computed, locked and written
// together when a whole location is computed again.
const recomputeChunk = contacttags.BulkMax

// segments keeps segment membership: the segment definitions (KV watch
// on "def.<name>" in socialsync_segments), and per contact
// "member.<loc>.<contactId>" → the segments whose tag it carries.
type segments struct {
	w     *Worker
	defs  *registry[automation.Segment]
	locks *bus.Stripes
}

// defChanged asks every location for a recomputation when a definition
// changed since it was last announced ("applied.<name>" holds the
// revision announced). Every replica does this; the requests carry the
// same Nats-Msg-Id, so the stream keeps one per location and revision.
func (s *segments) defChanged(ctx context.Context, name string, rev uint64, _ bool) {
	marker := automation.AppliedKey(name)
	var markerRev uint64
	if data, at, err := s.w.deps.Segments.Get(ctx, marker); err == nil {
		if n, _ := strconv.ParseUint(string(data), 10, 64); data != nil && n >= rev {
			return
		}
		markerRev = at
	}
	locs, err := s.w.deps.Locations.Locations(ctx)
	if err != nil {
		s.w.log.Error("segment definition changed; cannot list locations", "segment", name, "err", err)
		return
	}
	for _, l := range locs {
		id := fmt.Sprintf("segments:def:%s:%d:%s", name, rev, l.ID)
		if err := s.request(ctx, l.ID, "segment definition "+name, id); err != nil {
			s.w.log.Error("segment definition changed; recomputation not requested", "segment", name, "location", l.ID, "err", err)
			return
		}
	}
	// A conflict is another replica announcing the definition meanwhile.
	if _, err := s.w.deps.Segments.Put(ctx, marker, []byte(strconv.FormatUint(rev, 10)), markerRev); err != nil && !errors.Is(err, revision.ErrConflict) {
		s.w.log.Warn("segment definition announced; marker not stored", "segment", name, "err", err)
	}
}

// request publishes a SegmentsRecompute for loc with Nats-Msg-Id id.
func (s *segments) request(ctx context.Context, loc, reason, id string) error {
	subject, err := topology.SegmentTriggers.Subject(loc)
	if err != nil {
		return err
	}
	_, err = s.w.deps.Publisher.Publish(ctx, subject, &socialsyncv1.SegmentsRecompute{
		LocationId: loc, Reason: reason, RequestedAt: timestamppb.New(s.w.now())}, bus.WithMsgID(id))
	return err
}

// any reports whether a definition is loaded or broken.
func (s *segments) any() bool {
	defs, broken := s.defs.snapshot()
	return len(defs) > 0 || len(broken) > 0
}

// handleRecompute computes the membership of every contact of a location
// again (SegmentsRecompute on socialsync.trigger.segments.<loc>).
func (s *segments) handleRecompute(ctx context.Context, loc string, req *socialsyncv1.SegmentsRecompute) (Result, error) {
	var res Result
	if err := s.defs.wait(ctx); err != nil {
		return res, err
	}
	contacts, err := s.contactsOf(ctx, loc)
	if err != nil {
		return res, err
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "recompute"
	}
	for chunk := range slices.Chunk(contacts, recomputeChunk) {
		if err := s.recompute(ctx, &res, loc, chunk, reason, nil); err != nil {
			return res, err
		}
	}
	bus.LoggerFrom(ctx).Debug("segments recomputed", "contacts", len(contacts), "reason", reason)
	return res, nil
}

// handleContact computes the membership of one contact again after
// contactsync handled a post event listing it (ContactTagsChanged on
// socialsync.event.contact.<loc>): its social tags and posts may have
// changed. Computed from the stored state, this writes nothing on a
// redelivery that finds the membership already in line. With no
// definition there is no member to keep in line (those of a deleted
// definition are handled by the recomputation its deletion requested),
// and nothing to read.
func (s *segments) handleContact(ctx context.Context, loc string, ev *socialsyncv1.ContactTagsChanged) (Result, error) {
	var res Result
	if err := s.defs.wait(ctx); err != nil {
		return res, err
	}
	if !s.any() {
		return res, nil
	}
	// The post's date, which the enricher may not have stored yet.
	var hints map[string]time.Time
	if post := ev.GetPostKey(); post != "" {
		at := s.w.now()
		if ev.GetPostOccurredAt() != nil {
			at = ev.GetPostOccurredAt().AsTime()
		}
		hints = map[string]time.Time{post: at}
	}
	reason := ev.GetReason()
	if reason == "" {
		reason = "contact tags"
	}
	return res, s.recompute(ctx, &res, loc, []string{ev.GetContactId()}, reason, hints)
}

// contactsOf lists the contacts of loc that socialsync knows or that are
// members of a segment, sorted.
func (s *segments) contactsOf(ctx context.Context, loc string) ([]string, error) {
	a, err := s.w.deps.Relations.Keys(ctx, relations.ContactPrefix(loc))
	if err != nil {
		return nil, err
	}
	b, err := s.w.deps.Segments.Keys(ctx, automation.MemberPrefix(loc))
	if err != nil {
		return nil, err
	}
	all := append(a, b...)
	slices.Sort(all)
	return slices.Compact(all), nil
}

// member is one contact's part in a recomputation.
type member struct {
	id               string
	current, desired []string
	rev              uint64
	diff             contacttags.Diff
}

// recompute brings the segment tags of contacts of loc in line with the
// definitions: it computes each contact's segments from its stored
// state, writes the contact tags that changed (bulk calls through the
// rate governor), stores the membership under a revision check and
// publishes SegmentChanged for each segment entered or left. A contact
// whose membership is unchanged costs no call, so a redelivered event
// writes nothing. hints give the dates of posts whose record the
// enricher may not have stored yet. A contact HighLevel refuses for good
// is added to res, to be dead-lettered.
func (s *segments) recompute(ctx context.Context, res *Result, loc string, contacts []string, reason string, hints map[string]time.Time) error {
	if len(contacts) == 0 {
		return nil
	}
	if err := s.defs.wait(ctx); err != nil {
		return err
	}
	keys := make([]string, len(contacts))
	for i, c := range contacts {
		keys[i] = automation.MemberKey(loc, c)
	}
	unlock, err := s.locks.Lock(ctx, keys)
	if err != nil {
		return err
	}
	defer unlock()
	defs, broken := s.defs.snapshot()
	needPosts := slices.ContainsFunc(defs, automation.Segment.NeedsPosts)
	now := s.w.now()
	dates := map[string]time.Time{}
	var members []*member
	diffs := map[string]contacttags.Diff{}
	for _, c := range contacts {
		m := &member{id: c}
		var ms automation.Members
		rev, err := load(ctx, s.w.deps.Segments, automation.MemberKey(loc, c), &ms)
		if err != nil {
			return err
		}
		m.current, m.rev = ms.Segments, rev
		f, err := s.facts(ctx, loc, c, needPosts, now, dates, hints)
		if err != nil {
			return err
		}
		m.desired = automation.Membership(defs, broken, loc, m.current, f, now)
		entered, left := automation.MembershipDiff(m.current, m.desired)
		if len(entered)+len(left) == 0 {
			continue
		}
		m.diff = contacttags.Diff{Add: segmentTags(entered), Remove: segmentTags(left)}
		diffs[c] = m.diff
		members = append(members, m)
	}
	if len(members) == 0 {
		return nil
	}
	sent := contacttags.Send(ctx, s.w.deps.Client(loc), loc, contacttags.Batch(diffs, s.w.cfg.BulkMin, contacttags.BulkMax))
	for _, m := range members {
		if why, bad := sent.Failed[m.id]; bad {
			res.deadLetter("contact "+m.id, "segment tags: "+why)
			continue
		}
		if sent.Incomplete[m.id] {
			continue
		}
		if err := s.commit(ctx, loc, m, reason); err != nil {
			return err
		}
	}
	if sent.Err != nil {
		return fmt.Errorf("segment tags of %s: %w", loc, sent.Err)
	}
	return nil
}

// commit stores a member's new segments and publishes what changed.
func (s *segments) commit(ctx context.Context, loc string, m *member, reason string) error {
	data, err := json.Marshal(automation.Members{Segments: nonNil(m.desired)})
	if err != nil {
		return err
	}
	key := automation.MemberKey(loc, m.id)
	if len(m.desired) == 0 && m.rev != 0 {
		err = s.w.deps.Segments.Delete(ctx, key, m.rev)
	} else {
		_, err = s.w.deps.Segments.Put(ctx, key, data, m.rev)
	}
	if errors.Is(err, revision.ErrConflict) {
		// Another replica computed this contact meanwhile: the event
		// is computed again from its result.
		return fmt.Errorf("segments of contact %s: %w", m.id, err)
	}
	if err != nil {
		return err
	}
	entered, left := automation.MembershipDiff(m.current, m.desired)
	subject, err := topology.SegmentEvents.Subject(loc)
	if err != nil {
		return err
	}
	publish := func(names []string, change socialsyncv1.SegmentChange, verb string) error {
		for _, n := range names {
			ev := &socialsyncv1.SegmentChanged{LocationId: loc, ContactId: m.id, Segment: n, Change: change,
				Reason: reason, Timestamp: timestamppb.New(s.w.now()), ContactTag: automation.SegmentTag(n)}
			// The id names the membership the change was made from: a
			// redelivery that redoes the change publishes the same id.
			id := "segment:" + loc + ":" + m.id + ":" + n + ":" + verb + ":" + strconv.FormatUint(m.rev, 10)
			if _, err := s.w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := publish(entered, socialsyncv1.SegmentChange_SEGMENT_CHANGE_ENTERED, "entered"); err != nil {
		return err
	}
	return publish(left, socialsyncv1.SegmentChange_SEGMENT_CHANGE_LEFT, "left")
}

// facts gathers what the segment rules look at for one contact: its
// social contact tags, and, when a rule needs them, the dates of its
// posts (from the enricher's post records; dates memoises them).
func (s *segments) facts(ctx context.Context, loc, contact string, needPosts bool, now time.Time, dates, hints map[string]time.Time) (automation.Facts, error) {
	var st relations.ContactState
	if _, err := load(ctx, s.w.deps.Relations, relations.ContactKey(loc, contact), &st); err != nil {
		return automation.Facts{}, err
	}
	f := automation.Facts{Known: len(st.Posts) > 0, Tags: st.Applied}
	if !needPosts {
		return f, nil
	}
	for post := range st.Posts {
		at, ok := dates[post]
		if !ok {
			var rec struct {
				UpdatedAt time.Time `json:"updatedAt"`
			}
			if _, err := load(ctx, s.w.deps.Relations, relations.PostKey(loc, post), &rec); err != nil {
				return automation.Facts{}, err
			}
			at = rec.UpdatedAt
			if at.IsZero() {
				// The enricher has not stored the post yet: it is being
				// handled now, so it is recent; the event's date when
				// the post handler knows it.
				at = now
				if h, ok := hints[post]; ok && !h.IsZero() {
					at = h
				}
			}
			dates[post] = at
		}
		f.Posts = append(f.Posts, at)
	}
	return f, nil
}

func segmentTags(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = automation.SegmentTag(n)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
