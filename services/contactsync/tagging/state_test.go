package tagging

import (
	"slices"
	"time"

	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/socialsync/socialsync/pkg/contacttags"
)

func TestContactTag(t *testing.T) {
	tests := []struct{ prefix, name, want string }{
		{"social:", "Summer Sale", "social:summer sale"},
		{"social:", "  Tips & Tricks ", "social:tips & tricks"},
		{" Social:", "X", "social:x"},
		{"social:", "   ", "social:"},
	}
	for _, tt := range tests {
		if got := contacttags.ContactTag(tt.prefix, tt.name); got != tt.want {
			t.Errorf("contacttags.ContactTag(%q, %q) = %q, want %q", tt.prefix, tt.name, got, tt.want)
		}
	}
}

func TestPlan(t *testing.T) {
	const p = "social:"
	tests := []struct {
		name     string
		st       State
		change   PostChange
		written  Diff
		want     State
		wantDiff Diff
	}{
		{
			name:     "new contact gets the post's tags",
			change:   PostChange{PostID: "p1", Tags: []string{"Sale", "Launch", "Sale"}},
			want:     State{Posts: map[string][]string{"p1": {"Launch", "Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			wantDiff: Diff{Add: []string{"social:launch", "social:sale"}, Remove: []string{}},
		},
		{
			name:     "the same change again writes nothing",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			change:   PostChange{PostID: "p1", Tags: []string{"Sale", "Launch"}},
			want:     State{Posts: map[string][]string{"p1": {"Launch", "Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{}},
		},
		{
			name:     "a dropped tag is removed",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			change:   PostChange{PostID: "p1", Tags: []string{"Launch"}},
			want:     State{Posts: map[string][]string{"p1": {"Launch"}}, Applied: []string{"social:launch"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{"social:sale"}},
		},
		{
			name:     "a dropped tag another post carries stays",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}, "p2": {"Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			change:   PostChange{PostID: "p1", Tags: []string{"Launch"}},
			want:     State{Posts: map[string][]string{"p1": {"Launch"}, "p2": {"Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{}},
		},
		{
			name:     "a deleted post takes its tags along, except shared ones",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}, "p2": {"Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			change:   PostChange{PostID: "p1", Unlink: true},
			want:     State{Posts: map[string][]string{"p2": {"Sale"}}, Applied: []string{"social:sale"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{"social:launch"}},
		},
		{
			name:     "case and spacing are HighLevel's",
			st:       State{Posts: map[string][]string{"p1": {"SALE"}}, Applied: []string{"social:sale"}},
			change:   PostChange{PostID: "p2", Tags: []string{" sale "}},
			want:     State{Posts: map[string][]string{"p1": {"SALE"}, "p2": {"sale"}}, Applied: []string{"social:sale"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{}},
		},
		{
			// Another replica stored p2 (adding sale) after this attempt
			// had removed sale for p1: sale must be written again.
			name:     "a conflicting replica's tag removed by us is added back",
			st:       State{Posts: map[string][]string{"p1": {"Sale"}, "p2": {"Sale"}}, Applied: []string{"social:sale"}},
			change:   PostChange{PostID: "p1", Unlink: true},
			written:  Diff{Remove: []string{"social:sale"}},
			want:     State{Posts: map[string][]string{"p2": {"Sale"}}, Applied: []string{"social:sale"}},
			wantDiff: Diff{Add: []string{"social:sale"}, Remove: []string{}},
		},
		{
			name:     "a tag we added that the fresh state does not want is removed",
			st:       State{Posts: map[string][]string{}, Applied: []string{}},
			change:   PostChange{PostID: "p1", Unlink: true},
			written:  Diff{Add: []string{"social:sale"}},
			want:     State{Posts: map[string][]string{}, Applied: []string{}},
			wantDiff: Diff{Add: []string{}, Remove: []string{"social:sale"}},
		},
		{
			name:     "a deleted tag leaves the posts that carried it, and the contact",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}, "p2": {"Sale"}, "p3": {"Tips"}}, Applied: []string{"social:launch", "social:sale", "social:tips"}},
			change:   PostChange{Retag: &Retag{Posts: []string{"p1", "p2", "p9"}, Old: []string{"Sale"}}},
			want:     State{Posts: map[string][]string{"p1": {"Launch"}, "p2": {}, "p3": {"Tips"}}, Applied: []string{"social:launch", "social:tips"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{"social:sale"}},
		},
		{
			name:     "a deleted tag stays on a contact whose other post carries a live tag of that name",
			st:       State{Posts: map[string][]string{"p1": {"Sale"}, "p2": {"Sale"}}, Applied: []string{"social:sale"}},
			change:   PostChange{Retag: &Retag{Posts: []string{"p1"}, Old: []string{"Sale"}}},
			want:     State{Posts: map[string][]string{"p1": {}, "p2": {"Sale"}}, Applied: []string{"social:sale"}},
			wantDiff: Diff{Add: []string{}, Remove: []string{}},
		},
		{
			name:     "a renamed tag: the old name goes, the new one comes",
			st:       State{Posts: map[string][]string{"p1": {"Launch", "Sale"}}, Applied: []string{"social:launch", "social:sale"}},
			change:   PostChange{Retag: &Retag{Posts: []string{"p1"}, Old: []string{"Sale", "Promo"}, New: "Summer Sale"}},
			want:     State{Posts: map[string][]string{"p1": {"Launch", "Summer Sale"}}, Applied: []string{"social:launch", "social:summer sale"}},
			wantDiff: Diff{Add: []string{"social:summer sale"}, Remove: []string{"social:sale"}},
		},
		{
			// Renamed A → B → C, the second event handled first: its
			// names are not on the post, which the first event then
			// renames straight to the catalogue's name.
			name:     "renames handled out of order end on the current name",
			st:       State{Posts: map[string][]string{"p1": {"A"}}, Applied: []string{"social:a"}},
			change:   PostChange{Retag: &Retag{Posts: []string{"p1"}, Old: []string{"A", "B"}, New: "C"}},
			want:     State{Posts: map[string][]string{"p1": {"C"}}, Applied: []string{"social:c"}},
			wantDiff: Diff{Add: []string{"social:c"}, Remove: []string{"social:a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.st.Clone()
			got, diff := Plan(tt.st, tt.change, p, tt.written)
			if d := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("state (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantDiff, diff, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("diff (-want +got):\n%s", d)
			}
			if !tt.st.Equal(before) {
				t.Error("Plan changed its input")
			}
			// Planning the same change on the result writes nothing.
			if again, d := Plan(got, tt.change, p, Diff{}); !d.Empty() || !again.Equal(got) {
				t.Errorf("planned again: %+v, %+v; want no change", again, d)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	got := Diff{Add: []string{"a", "b"}, Remove: []string{"c"}}.Merge(Diff{Add: []string{"c"}, Remove: []string{"a"}})
	want := Diff{Add: []string{"b", "c"}, Remove: []string{"a"}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Merge (-want +got):\n%s", d)
	}
}

func TestPlanRespectsHandRemovals(t *testing.T) {
	const p = "social:"
	tagOf := func(n string) string { return contacttags.ContactTag(p, n) }
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st := State{Posts: map[string][]string{"p1": {"Launch", "Sale"}, "p2": {"Tips"}}, Applied: []string{"social:launch", "social:sale", "social:tips"}}
	removed := st.RemovedByHand("social:sale", tagOf, at, "reconcile")
	if diff := cmp.Diff([]string{"social:launch", "social:tips"}, removed.Applied); diff != "" {
		t.Errorf("applied after the removal (-want +got):\n%s", diff)
	}

	// The same post again, same tags: sale stays off, nothing written.
	next, diff := Plan(removed, PostChange{PostID: "p1", Tags: []string{"Sale", "Launch"}}, p, Diff{})
	if !diff.Empty() || !next.Equal(removed) {
		t.Errorf("same post again: diff %+v, state %+v; want nothing", diff, next)
	}
	// Another post's change leaves it off too.
	next, diff = Plan(removed, PostChange{PostID: "p2", Tags: []string{"Tips", "News"}}, p, Diff{})
	if d := cmp.Diff(Diff{Add: []string{"social:news"}}, diff, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("other post (-want +got):\n%s", d)
	}
	if _, ok := next.Removed["social:sale"]; !ok {
		t.Error("another post's change ended the removal")
	}
	// The post's tags change: the record ends, the tag comes back.
	next, diff = Plan(removed, PostChange{PostID: "p1", Tags: []string{"Sale"}}, p, Diff{})
	if d := cmp.Diff(Diff{Add: []string{"social:sale"}, Remove: []string{"social:launch"}}, diff, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("post changed (-want +got):\n%s", d)
	}
	if next.Removed != nil {
		t.Errorf("removal kept after the post changed: %+v", next.Removed)
	}
	// A new post bringing the tag ends it as well.
	if _, diff = Plan(removed, PostChange{PostID: "p3", Tags: []string{"Sale"}}, p, Diff{}); !slices.Contains(diff.Add, "social:sale") {
		t.Errorf("a new post with the tag: diff %+v, want social:sale added", diff)
	}
}
