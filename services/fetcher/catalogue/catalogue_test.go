package catalogue

import (
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
)

func TestSupersedes(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if !Supersedes(relations.Catalogue{FetchedAt: start.Add(time.Millisecond)}, start) {
		t.Error("a catalogue fetched after our fetch began does not supersede it")
	}
	if Supersedes(relations.Catalogue{FetchedAt: start.Add(-time.Second)}, start) || Supersedes(relations.Catalogue{}, start) {
		t.Error("an older catalogue supersedes a newer fetch")
	}
}

func TestRefreshWait(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		lastFetch time.Time
		interval  time.Duration
		want      time.Duration
	}{
		{"never fetched", time.Time{}, time.Second, 0},
		{"no pacing", now, 0, 0},
		{"interval elapsed", now.Add(-time.Second), time.Second, 0},
		{"long ago", now.Add(-time.Hour), time.Second, 0},
		{"just fetched", now, time.Second, time.Second},
		{"partway", now.Add(-300 * time.Millisecond), time.Second, 700 * time.Millisecond},
		{"clock set back: never more than the interval", now.Add(time.Hour), time.Second, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RefreshWait(now, tt.lastFetch, tt.interval); got != tt.want {
				t.Errorf("RefreshWait = %v, want %v", got, tt.want)
			}
		})
	}
}

// A refresh asked by a post event that occurred before the last fetch
// began, naming only tags it found live, needs no fetch; any other does.
func TestCovers(t *testing.T) {
	fetched := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	stored := relations.Catalogue{Tags: []relations.Tag{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}},
		Deleted: []relations.Tag{{ID: "gone", Name: "Gone"}}, FetchedAt: fetched}
	for _, tc := range []struct {
		name     string
		tags     []string
		occurred time.Time
		want     bool
	}{
		{"known tags, occurred before the fetch", []string{"a", "b"}, fetched.Add(-time.Second), true},
		{"occurred as the fetch began", []string{"a"}, fetched, true},
		{"occurred after the fetch began", []string{"a"}, fetched.Add(time.Millisecond), false},
		{"a tag the catalogue lacks", []string{"a", "new"}, fetched.Add(-time.Second), false},
		{"a deleted tag", []string{"gone"}, fetched.Add(-time.Second), false},
		{"no tags", nil, fetched.Add(-time.Second), false},
		{"no time", []string{"a"}, time.Time{}, false},
	} {
		if got := Covers(stored, tc.tags, tc.occurred); got != tc.want {
			t.Errorf("%s: covered %v, want %v", tc.name, got, tc.want)
		}
	}
	if Covers(relations.Catalogue{}, []string{"a"}, fetched) {
		t.Error("a location never fetched is covered")
	}
}
