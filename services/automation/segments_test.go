package automationworker_test

import (
	"context"
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
// in HighLevel, with one SegmentChanged each: a definition applied while
// the worker runs reaches the contacts already known (in bulk calls); a
// contact's ContactTagsChanged brings its membership in line; a duplicate
// event writes nothing; a deleted definition takes its tag away.
// Membership follows contact tags eventually: every check polls.
func TestSegmentMembership(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	contacts := env.LiveContacts(t, loc, 3)
	a, b, c := contacts[0], contacts[1], contacts[2]
	now := time.Now()
	startWorker(t, env)

	// a and b carry promo through p1; c only sale through p2. No segment
	// is defined yet: nothing is written.
	tagPost(t, env, loc, "p1", []string{"Promo", "Sale"}, now, a, b)
	waitContactsHandled(t, env, tagPost(t, env, loc, "p2", []string{"Sale"}, now, c))
	if n := segmentWrites(t, env, loc); n != 0 {
		t.Fatalf("%d segment tag writes without a segment", n)
	}

	// A new definition reaches the contacts already known, in one bulk
	// call for a and b.
	applySegments(t, env, "segments:\n  - name: promo-fans\n    allTags: [\"social:promo\"]\n")
	waitTags(t, env, loc, []string{a, b}, []string{"segment:promo-fans"}, nil)
	waitRecomputed(t, env, 1)
	if hasTag(contactTags(t, env, loc, c), "segment:promo-fans") {
		t.Error("c, without social:promo, is in promo-fans")
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

	// The same contact events again: nothing to write.
	writes := segmentWrites(t, env, loc)
	waitContactsHandled(t, env, tagPost(t, env, loc, "p1", []string{"Promo", "Sale"}, now, a, b))
	if got := segmentWrites(t, env, loc); got != writes {
		t.Errorf("a repeated event made %d segment tag writes", got-writes)
	}

	// c gets promo through p3: it enters on its own contact event.
	tagPost(t, env, loc, "p3", []string{"Promo"}, now, c)
	waitTags(t, env, loc, []string{c}, []string{"segment:promo-fans"}, nil)

	// p4 keeps promo on a; p1 drops it: b leaves, a stays.
	tagPost(t, env, loc, "p4", []string{"Promo"}, now, a)
	waitContactsHandled(t, env, tagPost(t, env, loc, "p1", []string{"Sale"}, now, a, b))
	waitTags(t, env, loc, []string{b}, nil, []string{"segment:promo-fans"})
	if !hasTag(contactTags(t, env, loc, a), "segment:promo-fans") {
		t.Error("a left promo-fans although p4 still gives it promo")
	}
	fleettest.Eventually(t, 10*time.Second, "b's left event", func() bool {
		return countSegmentEvents(t, env, loc, b, "promo-fans", left) == 1
	})
	if n := countSegmentEvents(t, env, loc, a, "promo-fans", left); n != 0 {
		t.Errorf("%d left events for a, want 0", n)
	}

	// A deleted definition takes its tag away.
	if err := automation.DeleteSegment(context.Background(), env.JS, "promo-fans"); err != nil {
		t.Fatal(err)
	}
	waitTags(t, env, loc, []string{a, c}, nil, []string{"segment:promo-fans"})
	fleettest.Eventually(t, 10*time.Second, "a's left event", func() bool {
		return countSegmentEvents(t, env, loc, a, "promo-fans", left) == 1
	})
}

// A rule on post dates: a post made long ago does not count for
// postedWithinDays; lapsed contacts are those with no recent post. A post
// the enricher has not stored yet is dated by its event.
func TestSegmentPostedWithin(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	contacts := env.LiveContacts(t, loc, 2)
	recentC, oldC := contacts[0], contacts[1]
	applySegments(t, env, "segments:\n  - name: active\n    postedWithinDays: 30\n  - name: lapsed\n    notPostedWithinDays: 30\n")
	startWorker(t, env)

	ninetyDays := time.Now().Add(-90 * 24 * time.Hour)
	primePost(t, env, loc, "old", []string{"t1"}, ninetyDays)
	tagPost(t, env, loc, "old", []string{"Promo"}, ninetyDays, oldC)
	primePost(t, env, loc, "fresh", []string{"t1"}, time.Now().Add(-time.Hour))
	tagPost(t, env, loc, "fresh", []string{"Promo"}, time.Now().Add(-time.Hour), recentC)
	waitTags(t, env, loc, []string{recentC}, []string{"segment:active"}, []string{"segment:lapsed"})
	waitTags(t, env, loc, []string{oldC}, []string{"segment:lapsed"}, []string{"segment:active"})
}
