package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// HighLevel's day may start at another time than midnight UTC (it names
// none): the governor learns it from X-RateLimit-Daily-Remaining, when a
// response counts far fewer calls than the budget, and resets its own count
// at that hour from then on. The simulator's day starts at 21:00 UTC here.
func TestLearnsTheDailyResetFromHighLevel(t *testing.T) {
	const daily = 30
	clock := newClock(time.Date(2026, time.March, 11, 20, 30, 0, 0, time.UTC))
	w := newWorldAt(t, 100, time.Second, daily, clock.Now)
	w.admin("PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"dailyReset": "21h"}}, nil)
	loc, tok := w.location()
	p := w.process(ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now})
	c := w.client(p, tok, ghl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 20 {
		if err := call(ctx, c, loc); err != nil {
			t.Fatal(err)
		}
	}
	hr, err := p.gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if midnight := time.Date(2026, time.March, 12, 0, 0, 0, 0, time.UTC); hr.DailyUsed != 20 || !hr.DailyResetAt.Equal(midnight) {
		t.Fatalf("before HighLevel's reset: %d used, reset at %v; want 20, %v (the assumption)", hr.DailyUsed, hr.DailyResetAt, midnight)
	}

	clock.Jump(40 * time.Minute) // 21:10: HighLevel's day started again at 21:00
	if err := call(ctx, c, loc); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, time.March, 12, 21, 0, 0, 0, time.UTC)
	fleettest.Eventually(t, 15*time.Second, "the reset learned", func() bool {
		hr, err = p.gov.Headroom(ctx, loc)
		return err == nil && hr.DailyUsed == 1 && hr.DailyResetAt.Equal(want)
	})
	// Another process reads the same.
	other := w.process(ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now})
	if hr, err := other.gov.Headroom(ctx, loc); err != nil || !hr.DailyResetAt.Equal(want) {
		t.Errorf("another process reads the reset at %v (%v), want %v", hr.DailyResetAt, err, want)
	}
	// Midnight UTC no longer resets the count: the location's calls go on
	// counting until 21:00.
	clock.Jump(3 * time.Hour) // 00:10 the next day
	for range 3 {
		if err := call(ctx, c, loc); err != nil {
			t.Fatal(err)
		}
	}
	if hr, err := p.gov.Headroom(ctx, loc); err != nil || hr.DailyUsed != 4 {
		t.Errorf("after midnight UTC: %d used (%v), want 4: the day goes on to 21:00", hr.DailyUsed, err)
	}
	if n := count429(w.requests(loc)); n > 0 {
		t.Errorf("%d 429s", n)
	}
}
