package contactsync

import (
	"slices"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
)

// What socialsync's own writes explain of a delivery that lacks a tag.
func TestIntentsExplain(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	add := func(at time.Time) intentWrite { return intentWrite{Add: []string{"social:a"}, At: at} }
	remove := func(at time.Time) intentWrite { return intentWrite{Remove: []string{"social:a"}, At: at} }
	seenWith := &relations.HighLevelTags{Tags: []string{"social:a"}, At: t0.Add(10 * time.Second)}
	seenWithout := &relations.HighLevelTags{Tags: []string{"vip"}, At: t0.Add(10 * time.Second)}
	for _, tc := range []struct {
		name   string
		writes []intentWrite
		at     time.Time
		seen   *relations.HighLevelTags
		want   bool
	}{
		{"no write: a hand removal", nil, t0, nil, false},
		{"another tag's write", []intentWrite{{Add: []string{"social:b"}, At: t0}}, t0, nil, false},
		{"socialsync removed it", []intentWrite{remove(t0)}, t0.Add(time.Minute), nil, true},
		{"socialsync removed it, before the commit", []intentWrite{add(t0.Add(-time.Hour)), remove(t0)}, t0, seenWith, true},
		{"added then removed by socialsync long ago, re-added: latest wins", []intentWrite{remove(t0.Add(-time.Hour)), add(t0)}, t0.Add(time.Minute), seenWith, false},
		{"just added, HighLevel not seen with it: the delivery predates the add", []intentWrite{add(t0)}, t0.Add(30 * time.Second), seenWithout, true},
		{"just added, nothing seen yet", []intentWrite{add(t0)}, t0.Add(30 * time.Second), nil, true},
		{"added, HighLevel showed it since: removed by hand", []intentWrite{add(t0)}, t0.Add(30 * time.Second), seenWith, false},
		{"added long before the delivery", []intentWrite{add(t0)}, t0.Add(time.Hour), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (intents{Writes: tc.writes}).explains("social:a", tc.at, echoSlack, tc.seen); got != tc.want {
				t.Errorf("explains = %v, want %v", got, tc.want)
			}
		})
	}
}

// The tags socialsync's latest write of each added: those a remap may have
// to take off again.
func TestIntentsAdded(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := intents{Writes: []intentWrite{
		{Add: []string{"sp-a", "sp-b"}, Remove: []string{"social:a", "social:b"}, At: t0},
		{Add: []string{"tw-a"}, Remove: []string{"sp-a"}, At: t0.Add(time.Minute)},
		{Add: []string{"social:b"}, At: t0.Add(2 * time.Minute)},
	}}
	if got, want := r.added().Add, []string{"social:b", "sp-b", "tw-a"}; !slices.Equal(got, want) {
		t.Errorf("added = %v, want %v", got, want)
	}
	if got := (intents{}).added(); !got.Empty() {
		t.Errorf("added of no write = %v", got)
	}
}
