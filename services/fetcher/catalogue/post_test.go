package catalogue

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestUpdated(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	posts := []PolledPost{
		{ID: "p3", UpdatedAt: t0.Add(3 * time.Minute)},
		{ID: "p1", UpdatedAt: t0.Add(-time.Minute)},
		{ID: "p0", UpdatedAt: t0},
		{ID: "p2", UpdatedAt: t0.Add(time.Minute), Deleted: true},
		{ID: "", UpdatedAt: t0.Add(time.Hour)},
		{ID: "p4"},
	}
	got, since := Updated(posts, PollCursor{Since: t0})
	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID)
	}
	if diff := cmp.Diff([]string{"p2", "p3"}, ids); diff != "" {
		t.Errorf("updated posts (-want +got):\n%s", diff)
	}
	if !since.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("since = %v, want the latest update", since)
	}
	none, same := Updated(posts[1:3], PollCursor{Since: t0})
	if len(none) != 0 || !same.Equal(t0) {
		t.Errorf("nothing new: got %v, since %v", none, same)
	}
	all, _ := Updated(posts, PollCursor{})
	if len(all) != 4 {
		t.Errorf("a first poll takes every dated post, got %d", len(all))
	}
}

func TestPollDue(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		polledAt time.Time
		want     bool
	}{
		{"never polled", time.Time{}, true},
		{"polled an interval ago", now.Add(-time.Minute), true},
		{"polled just now", now.Add(-time.Second), false},
		{"claim from a clock far ahead", now.Add(time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PollDue(now, tt.polledAt, time.Minute); got != tt.want {
				t.Errorf("PollDue = %v, want %v", got, tt.want)
			}
		})
	}
}
