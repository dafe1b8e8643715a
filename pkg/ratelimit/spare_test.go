package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// Spare reports the whole limit for a location never asked for, and one
// permit fewer for each one taken within the window.
func TestSpare(t *testing.T) {
	w := newWorld(t, 5, time.Hour, 1000)
	loc, _ := w.location()
	g := w.process(ratelimit.Config{Max: 5, Window: time.Hour}).gov
	if spare, limit, window := g.Spare(loc, ghl.LaneInteractive); spare != 5 || limit != 5 || window != time.Hour {
		t.Fatalf("Spare of a new location = %d, %d, %v; want 5, 5, 1h", spare, limit, window)
	}
	for i := range 3 {
		rel, err := g.Acquire(context.Background(), loc)
		if err != nil {
			t.Fatalf("permit %d: %v", i, err)
		}
		rel(ghl.ResponseInfo{})
	}
	if spare, _, _ := g.Spare(loc, ghl.LaneInteractive); spare != 2 {
		t.Errorf("Spare after 3 permits = %d, want 2", spare)
	}
}
