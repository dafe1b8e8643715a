package catalogue

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewCatalogueDropsRepeatsAndBadIDs(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	got := NewCatalogue([]Tag{{"a1", "A"}, {"", "no id"}, {"a1", "A again"}, {"b.2", "dotted"}, {strings.Repeat("f", 65), "long"}, {"c3", "C"}}, at)
	want := Catalogue{Tags: []Tag{{"a1", "A"}, {"c3", "C"}}, FetchedAt: at.UTC()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewCatalogue (-want +got):\n%s", diff)
	}
}

func TestCatalogueRoundTrip(t *testing.T) {
	c := NewCatalogue([]Tag{{"a1", "Alpha"}}, time.Date(2025, 3, 1, 12, 0, 0, 5e6, time.UTC))
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"tags":[{"id":"a1","name":"Alpha"}],"fetchedAt":"2025-03-01T12:00:00.005Z"}`; string(data) != want {
		t.Errorf("stored form = %s, want %s", data, want)
	}
	back, err := UnmarshalCatalogue(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	empty, _ := Catalogue{}.Marshal()
	if !strings.Contains(string(empty), `"tags":[]`) {
		t.Errorf("an empty catalogue is stored as %s, want tags []", empty)
	}
	if _, err := UnmarshalCatalogue([]byte("{")); err == nil {
		t.Error("UnmarshalCatalogue accepted a broken value")
	}
}

func TestSupersedes(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if !Supersedes(Catalogue{FetchedAt: start.Add(time.Millisecond)}, start) {
		t.Error("a catalogue fetched after our fetch began does not supersede it")
	}
	if Supersedes(Catalogue{FetchedAt: start.Add(-time.Second)}, start) || Supersedes(Catalogue{}, start) {
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
