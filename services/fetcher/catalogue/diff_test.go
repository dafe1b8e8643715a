package catalogue

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/relations"
)

func TestDiff(t *testing.T) {
	a, b, c := relations.Tag{ID: "a1", Name: "Alpha"}, relations.Tag{ID: "b2", Name: "Beta"}, relations.Tag{ID: "c3", Name: "Gamma"}
	tests := []struct {
		name     string
		old, cur []relations.Tag
		want     []Change
	}{
		{"from an empty catalogue every tag is created", nil, []relations.Tag{c, a, b},
			[]Change{{Kind: Created, Tag: a}, {Kind: Created, Tag: b}, {Kind: Created, Tag: c}}},
		{"no change", []relations.Tag{a, b}, []relations.Tag{b, a}, nil},
		{"both empty", nil, nil, nil},
		{"created", []relations.Tag{a}, []relations.Tag{a, b}, []Change{{Kind: Created, Tag: b}}},
		{"renamed keeps the id and reports the old name", []relations.Tag{a, b}, []relations.Tag{a, {ID: "b2", Name: "Beta 2"}},
			[]Change{{Kind: Renamed, Tag: relations.Tag{ID: "b2", Name: "Beta 2"}, PreviousName: "Beta"}}},
		{"case-only rename is a rename", []relations.Tag{a}, []relations.Tag{{ID: "a1", Name: "alpha"}},
			[]Change{{Kind: Renamed, Tag: relations.Tag{ID: "a1", Name: "alpha"}, PreviousName: "Alpha"}}},
		{"deleted reports the last name", []relations.Tag{a, b, c}, []relations.Tag{a}, []Change{{Kind: Deleted, Tag: b}, {Kind: Deleted, Tag: c}}},
		{"everything deleted", []relations.Tag{a, b}, nil, []Change{{Kind: Deleted, Tag: a}, {Kind: Deleted, Tag: b}}},
		{"same name, new id: one deleted, one created", []relations.Tag{a}, []relations.Tag{{ID: "z9", Name: "Alpha"}},
			[]Change{{Kind: Created, Tag: relations.Tag{ID: "z9", Name: "Alpha"}}, {Kind: Deleted, Tag: a}}},
		{"all kinds at once, sorted by kind then id", []relations.Tag{a, b, c}, []relations.Tag{{ID: "d4", Name: "Delta"}, {ID: "c3", Name: "Gamma!"}, a},
			[]Change{
				{Kind: Created, Tag: relations.Tag{ID: "d4", Name: "Delta"}},
				{Kind: Renamed, Tag: relations.Tag{ID: "c3", Name: "Gamma!"}, PreviousName: "Gamma"},
				{Kind: Deleted, Tag: b},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.old, tt.cur)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBaseline(t *testing.T) {
	a, b := relations.Tag{ID: "a1", Name: "Alpha"}, relations.Tag{ID: "b2", Name: "Beta"}
	want := []Change{{Kind: Discovered, Tag: a}, {Kind: Discovered, Tag: b}}
	if diff := cmp.Diff(want, Baseline([]relations.Tag{b, a})); diff != "" {
		t.Errorf("Baseline (-want +got):\n%s", diff)
	}
	if got := Baseline(nil); len(got) != 0 {
		t.Errorf("Baseline of no tags = %v", got)
	}
}

func TestDetailsWanted(t *testing.T) {
	changes := []Change{
		{Kind: Discovered, Tag: relations.Tag{ID: "b1", Name: "Known before"}},
		{Kind: Created, Tag: relations.Tag{ID: "n1", Name: "New"}},
		{Kind: Renamed, Tag: relations.Tag{ID: "r1", Name: "Renamed"}, PreviousName: "Old"},
		{Kind: Deleted, Tag: relations.Tag{ID: "d1", Name: "Gone"}},
		{Kind: Created, Tag: relations.Tag{ID: "n1", Name: "New"}},
	}
	if diff := cmp.Diff([]string{"b1", "n1", "r1"}, DetailsWanted(changes)); diff != "" {
		t.Errorf("DetailsWanted (-want +got):\n%s", diff)
	}
	if got := DetailsWanted([]Change{{Kind: Deleted, Tag: relations.Tag{ID: "d1", Name: "Gone"}}}); got != nil {
		t.Errorf("DetailsWanted of deletions only = %v, want none", got)
	}
}
