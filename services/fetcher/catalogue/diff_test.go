package catalogue

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiff(t *testing.T) {
	a, b, c := Tag{"a1", "Alpha"}, Tag{"b2", "Beta"}, Tag{"c3", "Gamma"}
	tests := []struct {
		name     string
		old, cur []Tag
		want     []Change
	}{
		{"first refresh creates every tag", nil, []Tag{c, a, b},
			[]Change{{Kind: Created, Tag: a}, {Kind: Created, Tag: b}, {Kind: Created, Tag: c}}},
		{"no change", []Tag{a, b}, []Tag{b, a}, nil},
		{"both empty", nil, nil, nil},
		{"created", []Tag{a}, []Tag{a, b}, []Change{{Kind: Created, Tag: b}}},
		{"renamed keeps the id and reports the old name", []Tag{a, b}, []Tag{a, {"b2", "Beta 2"}},
			[]Change{{Kind: Renamed, Tag: Tag{"b2", "Beta 2"}, PreviousName: "Beta"}}},
		{"case-only rename is a rename", []Tag{a}, []Tag{{"a1", "alpha"}},
			[]Change{{Kind: Renamed, Tag: Tag{"a1", "alpha"}, PreviousName: "Alpha"}}},
		{"deleted reports the last name", []Tag{a, b, c}, []Tag{a}, []Change{{Kind: Deleted, Tag: b}, {Kind: Deleted, Tag: c}}},
		{"everything deleted", []Tag{a, b}, nil, []Change{{Kind: Deleted, Tag: a}, {Kind: Deleted, Tag: b}}},
		{"same name, new id: one deleted, one created", []Tag{a}, []Tag{{"z9", "Alpha"}},
			[]Change{{Kind: Created, Tag: Tag{"z9", "Alpha"}}, {Kind: Deleted, Tag: a}}},
		{"all kinds at once, sorted by kind then id", []Tag{a, b, c}, []Tag{{"d4", "Delta"}, {"c3", "Gamma!"}, a},
			[]Change{
				{Kind: Created, Tag: Tag{"d4", "Delta"}},
				{Kind: Renamed, Tag: Tag{"c3", "Gamma!"}, PreviousName: "Gamma"},
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

func TestDetailsWanted(t *testing.T) {
	changes := []Change{
		{Kind: Created, Tag: Tag{"n1", "New"}},
		{Kind: Renamed, Tag: Tag{"r1", "Renamed"}, PreviousName: "Old"},
		{Kind: Deleted, Tag: Tag{"d1", "Gone"}},
		{Kind: Created, Tag: Tag{"n1", "New"}},
	}
	if diff := cmp.Diff([]string{"n1", "r1"}, DetailsWanted(changes)); diff != "" {
		t.Errorf("DetailsWanted (-want +got):\n%s", diff)
	}
	if got := DetailsWanted([]Change{{Kind: Deleted, Tag: Tag{"d1", "Gone"}}}); got != nil {
		t.Errorf("DetailsWanted of deletions only = %v, want none", got)
	}
}

func TestBatches(t *testing.T) {
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint("t", i)
		}
		return out
	}
	tests := []struct {
		n, size int
		want    []int
	}{
		{0, 100, nil},
		{1, 100, []int{1}},
		{100, 100, []int{100}},
		{101, 100, []int{100, 1}},
		{250, 100, []int{100, 100, 50}},
		{150, 0, []int{100, 50}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d by %d", tt.n, tt.size), func(t *testing.T) {
			in := ids(tt.n)
			got := Batches(in, tt.size)
			var sizes []int
			var joined []string
			for _, b := range got {
				sizes = append(sizes, len(b))
				joined = append(joined, b...)
			}
			if diff := cmp.Diff(tt.want, sizes); diff != "" {
				t.Errorf("batch sizes (-want +got):\n%s", diff)
			}
			if tt.n > 0 {
				if diff := cmp.Diff(in, joined); diff != "" {
					t.Errorf("batches do not hold the ids in order (-want +got):\n%s", diff)
				}
			}
			// A batch cannot grow into the next one's ids.
			if len(got) > 1 {
				_ = append(got[0], "x")
				if got[1][0] != in[len(got[0])] {
					t.Error("appending to a batch overwrote the next one")
				}
			}
		})
	}
}
