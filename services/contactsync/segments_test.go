package contactsync_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

const (
	entered = socialsyncv1.SegmentChange_SEGMENT_CHANGE_ENTERED
	left    = socialsyncv1.SegmentChange_SEGMENT_CHANGE_LEFT
)

// segmentWrites counts loc's contact tag calls that carried a segment tag.
func segmentWrites(t *testing.T, env *fleettest.Env, loc string) int {
	t.Helper()
	n := 0
	for _, r := range env.Requests(t, loc) {
		for _, w := range r.TagWrites {
			if strings.HasPrefix(strings.Join(w.Tags, ","), "segment:") {
				n++
				break
			}
		}
	}
	return n
}

// Contacts enter a segment when their social tags match its rule and
// leave it when they stop matching, as the contact tag segment:<name>
// in HighLevel (bulk calls), with one SegmentChanged each; a duplicate
// event writes nothing; a definition applied or deleted while the worker
// runs changes membership.
func TestSegmentMembership(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := location(t, env, loc)
	tags := liveTags(t, l, 2)
	promo, sale := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := liveContacts(t, l, 3)
	a, b, c := contacts[0], contacts[1], contacts[2]
	applySegments(t, env, fmt.Sprintf("segments:\n  - name: promo-fans\n    allTags: [%q]\n", social(promo)))
	startWorker(t, env)
	waitRecomputed(t, env, 1) // the new definition, before any post

	// a and b get promo through p1; c only sale through p2.
	p1 := createPost(t, env, loc, promo, sale)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(promo, sale), ContactIds: []string{a, b}, EventId: "e1"})
	p2 := createPost(t, env, loc, sale)
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p2, TagIds: ids(sale), ContactIds: []string{c}, EventId: "e2"})
	waitTags(t, env, loc, []string{a, b}, []string{"segment:promo-fans", social(promo)}, nil)
	waitHandled(t, env, seq)
	if hasTag(contactTags(t, env, loc, c), "segment:promo-fans") {
		t.Errorf("c, without %s, is in promo-fans", social(promo))
	}
	for _, id := range []string{a, b} {
		if n := countSegmentEvents(t, env, loc, id, "promo-fans", entered); n != 1 {
			t.Errorf("%d entered events for %s, want 1", n, id)
		}
	}
	var bulk bool
	for _, r := range env.Requests(t, loc) {
		if strings.HasPrefix(r.Path, "/contacts/bulk/tags/update/add") && len(r.TagWrites) == 2 && r.TagWrites[0].Tags[0] == "segment:promo-fans" {
			bulk = true
		}
	}
	if !bulk {
		t.Error("a and b did not enter promo-fans in one bulk call")
	}

	// The same post event again, under another event id: nothing to write.
	writes := segmentWrites(t, env, loc)
	seq = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(promo, sale), ContactIds: []string{a, b}, EventId: "e1-again"})
	waitHandled(t, env, seq)
	if got := segmentWrites(t, env, loc); got != writes {
		t.Errorf("a repeated event made %d segment tag writes", got-writes)
	}

	// p3 keeps promo on a; p1 drops it: b leaves, a stays.
	p3 := createPost(t, env, loc, promo)
	waitHandled(t, env, publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p3, TagIds: ids(promo), ContactIds: []string{a}, EventId: "e3"}))
	seq = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(sale), ContactIds: []string{a, b}, EventId: "e4"})
	waitTags(t, env, loc, []string{b}, nil, []string{"segment:promo-fans"})
	waitHandled(t, env, seq)
	if !hasTag(contactTags(t, env, loc, a), "segment:promo-fans") {
		t.Error("a left promo-fans although p3 still gives it promo")
	}
	if n := countSegmentEvents(t, env, loc, b, "promo-fans", left); n != 1 {
		t.Errorf("%d left events for b, want 1", n)
	}
	if n := countSegmentEvents(t, env, loc, a, "promo-fans", left); n != 0 {
		t.Errorf("%d left events for a, want 0", n)
	}

	// A new definition reaches the contacts already known, live.
	applySegments(t, env, fmt.Sprintf("segments:\n  - name: sale-lovers\n    anyTags: [%q]\n    noneTags: [%q]\n", social(sale), social(promo)))
	waitTags(t, env, loc, []string{b, c}, []string{"segment:sale-lovers"}, nil)
	if hasTag(contactTags(t, env, loc, a), "segment:sale-lovers") {
		t.Error("a, with promo, is in sale-lovers")
	}

	// A deleted definition takes its tag away.
	if err := automation.DeleteSegment(context.Background(), env.JS, "promo-fans"); err != nil {
		t.Fatal(err)
	}
	waitTags(t, env, loc, []string{a}, nil, []string{"segment:promo-fans"})
	fleettest.Eventually(t, 10*time.Second, "a's left event", func() bool {
		return countSegmentEvents(t, env, loc, a, "promo-fans", left) == 1
	})
}

// A rule on post dates: a post made long ago does not count for
// postedWithinDays; lapsed contacts are those with no recent post.
func TestSegmentPostedWithin(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := location(t, env, loc)
	tg := liveTags(t, l, 1)[0]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := liveContacts(t, l, 2)
	recentC, oldC := contacts[0], contacts[1]
	applySegments(t, env, "segments:\n  - name: active\n    postedWithinDays: 30\n  - name: lapsed\n    notPostedWithinDays: 30\n")
	startWorker(t, env)

	old := createPost(t, env, loc, tg)
	primePost(t, env, loc, old, ids(tg), time.Now().Add(-90*24*time.Hour))
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: old, TagIds: ids(tg), ContactIds: []string{oldC},
		OccurredAt: timestamp(time.Now().Add(-90 * 24 * time.Hour)), EventId: "old"})
	fresh := createPost(t, env, loc, tg)
	primePost(t, env, loc, fresh, ids(tg), time.Now().Add(-time.Hour))
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: fresh, TagIds: ids(tg), ContactIds: []string{recentC},
		OccurredAt: timestamp(time.Now().Add(-time.Hour)), EventId: "fresh"})
	waitTags(t, env, loc, []string{recentC}, []string{"segment:active"}, []string{"segment:lapsed"})
	waitTags(t, env, loc, []string{oldC}, []string{"segment:lapsed"}, []string{"segment:active"})
}
