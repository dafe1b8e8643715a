package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// Another process sees the permits one process took, through the bucket.
// The governors' and the simulator's clock runs from noon (awayFromMidnight):
// a midnight between the calls would start the day's count again.
func TestHeadroomReadsTheSharedBudget(t *testing.T) {
	clock := awayFromMidnight()
	w := newWorldAt(t, 100, 10*time.Second, 200_000, clock)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: 50, Window: 10 * time.Second, Daily: 1000, Now: clock}
	busy, watcher := w.process(cfg), w.process(cfg)
	ctx := context.Background()

	h, err := watcher.gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if h.Remaining() != 50 || h.DailyRemaining() != 1000 || !h.PausedUntil.IsZero() {
		t.Fatalf("before any call: %+v", h)
	}
	c := w.client(busy, tok, ghl.Options{})
	for range 7 {
		if err := call(ctx, c, loc); err != nil {
			t.Fatal(err)
		}
	}
	h, err = watcher.gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	// HighLevel's headers report its own limits (100 per window, 200,000
	// a day), which replace the configured ones.
	if h.Used != 7 || h.DailyUsed != 7 || h.Max != 100 || h.Remaining() != 93 {
		t.Errorf("after 7 calls: %+v", h)
	}
	if _, err := watcher.gov.Headroom(ctx, "not a location"); err == nil {
		t.Error("invalid location: no error")
	}
}

// The doctor's forecast: the day's rate so far, carried on to the cap.
func TestHeadroomDailyForecast(t *testing.T) {
	midnight := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	at := midnight.Add(6 * time.Hour)
	h := ratelimit.Headroom{Daily: 200_000, DailyUsed: 100_000, DailyResetAt: midnight.Add(24 * time.Hour)}
	if got, ok := h.DailyForecast(at); !ok || !got.Equal(midnight.Add(12*time.Hour)) {
		t.Errorf("forecast at half the cap after 6 h = %v, %v; want noon", got, ok)
	}
	h.DailyUsed = 10_000
	if got, ok := h.DailyForecast(at); ok {
		t.Errorf("forecast at a slow rate = %v, want none before the reset", got)
	}
	h.DailyUsed = 0
	if _, ok := h.DailyForecast(at); ok {
		t.Error("forecast with no calls")
	}
	h.DailyUsed = 200_000
	if got, ok := h.DailyForecast(at); !ok || !got.Equal(at) {
		t.Errorf("forecast at the cap = %v, %v; want now", got, ok)
	}
}
