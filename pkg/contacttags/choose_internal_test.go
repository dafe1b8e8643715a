package contacttags

import (
	"slices"
	"testing"
)

// Two events sharing one contact, each asking for its own two tags: one
// call per event (byEvent) beats Batch's three single-contact calls (the
// shared contact needs all four tags) and ByTag's four.
func TestChooseByEvent(t *testing.T) {
	set := func(tags ...string) map[string]bool {
		m := map[string]bool{}
		for _, tag := range tags {
			m[tag] = true
		}
		return m
	}
	first, second := &request{left: 2}, &request{left: 2}
	items := []*item{
		{req: first, contact: "c1", add: set("a", "b"), remove: map[string]bool{}},
		{req: first, contact: "c2", add: set("a", "b"), remove: map[string]bool{}},
		{req: second, contact: "c2", add: set("c", "d"), remove: map[string]bool{}},
		{req: second, contact: "c3", add: set("c", "d"), remove: map[string]bool{}},
	}
	wr, its, more, folds := choose(items, 2, BulkMax)
	if wr == nil || !wr.Bulk || wr.Remove || len(wr.Contacts) != 2 || len(wr.Tags) != 2 {
		t.Fatalf("first write %+v; want one event's two tags to its two contacts in bulk", wr)
	}
	if !more || folds {
		t.Errorf("more %v, folds %v: want the other event's write left, and no call saved (a call per event)", more, folds)
	}
	want := items[:2]
	if slices.Equal(wr.Tags, []string{"c", "d"}) {
		want = items[2:]
	}
	if !slices.Equal(its, want) {
		t.Errorf("the write serves %d items, want the event's own %d", len(its), len(want))
	}
	if _, _, calls := byEvent(items, 2, BulkMax); calls != 2 {
		t.Errorf("byEvent plans %d calls, want 2", calls)
	}
	// A contact's removal waits while another event adds the same tag:
	// only what can go now is planned.
	items = append(items, &item{req: &request{left: 1}, contact: "c1", add: map[string]bool{}, remove: set("a")})
	if _, its, _, _ := choose(items, 2, BulkMax); slices.ContainsFunc(its, func(it *item) bool { return len(it.remove) > 0 }) {
		t.Error("a removal of a tag another event adds to the same contact was planned with it")
	}
}
