package contacttags

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBatch(t *testing.T) {
	tests := []struct {
		name    string
		diffs   map[string]Diff
		bulkMin int
		want    []Write
	}{
		{
			name: "the same change for three contacts is one bulk call",
			diffs: map[string]Diff{
				"c3": {Add: []string{"a", "b"}},
				"c1": {Add: []string{"a", "b"}},
				"c2": {Add: []string{"a", "b"}},
			},
			bulkMin: 2,
			want:    []Write{{Tags: []string{"a", "b"}, Contacts: []string{"c1", "c2", "c3"}, Bulk: true}},
		},
		{
			name: "a change only one contact needs is a single call",
			diffs: map[string]Diff{
				"c1": {Remove: []string{"b"}},
				"c2": {Remove: []string{"b"}},
				"c3": {Add: []string{"a"}},
			},
			bulkMin: 2,
			want: []Write{
				{Tags: []string{"a"}, Contacts: []string{"c3"}},
				{Remove: true, Tags: []string{"b"}, Contacts: []string{"c1", "c2"}, Bulk: true},
			},
		},
		{
			name:    "below the bulk minimum",
			diffs:   map[string]Diff{"c1": {Add: []string{"a"}}, "c2": {Add: []string{"a"}}},
			bulkMin: 3,
			want: []Write{
				{Tags: []string{"a"}, Contacts: []string{"c1"}},
				{Tags: []string{"a"}, Contacts: []string{"c2"}},
			},
		},
		{
			name:    "no change, no call",
			diffs:   map[string]Diff{"c1": {}},
			bulkMin: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Batch(tt.diffs, tt.bulkMin, BulkMax)); d != "" {
				t.Errorf("Batch (-want +got):\n%s", d)
			}
		})
	}
}

func TestBatchSplitsLargeGroups(t *testing.T) {
	diffs := map[string]Diff{}
	for i := range 250 {
		diffs[fmt.Sprintf("c%03d", i)] = Diff{Add: []string{"a"}}
	}
	writes := Batch(diffs, 2, BulkMax)
	var sizes []int
	for _, w := range writes {
		if !w.Bulk {
			t.Fatalf("write %+v is not bulk", w)
		}
		sizes = append(sizes, len(w.Contacts))
	}
	if d := cmp.Diff([]int{100, 100, 50}, sizes); d != "" {
		t.Errorf("bulk sizes (-want +got):\n%s", d)
	}
}

func TestByTag(t *testing.T) {
	diffs := map[string]Diff{
		"c1": {Add: []string{"a", "b"}},
		"c2": {Add: []string{"b", "c"}},
		"c3": {Add: []string{"a", "b", "d"}, Remove: []string{"x"}},
		"c4": {Remove: []string{"x", "y"}},
	}
	want := []Write{
		{Tags: []string{"a"}, Contacts: []string{"c1", "c3"}, Bulk: true},
		{Tags: []string{"b"}, Contacts: []string{"c1", "c2", "c3"}, Bulk: true},
		{Tags: []string{"c"}, Contacts: []string{"c2"}},
		{Tags: []string{"d"}, Contacts: []string{"c3"}},
		{Remove: true, Tags: []string{"x"}, Contacts: []string{"c3", "c4"}, Bulk: true},
		{Remove: true, Tags: []string{"y"}, Contacts: []string{"c4"}},
	}
	if d := cmp.Diff(want, ByTag(diffs, 2, BulkMax)); d != "" {
		t.Errorf("ByTag (-want +got):\n%s", d)
	}
	// Past the bulk size, a lone contact left of a tag joins its other
	// tags' single call.
	got := ByTag(map[string]Diff{"c1": {Add: []string{"a"}}, "c2": {Add: []string{"a"}}, "c3": {Add: []string{"a", "z"}}}, 2, 2)
	want = []Write{
		{Tags: []string{"a"}, Contacts: []string{"c1", "c2"}, Bulk: true},
		{Tags: []string{"a", "z"}, Contacts: []string{"c3"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ByTag over the size (-want +got):\n%s", d)
	}
}
