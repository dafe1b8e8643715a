package ratelimit_test

import (
	"context"
	"errors"
	"strings"
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

// A daily reset the operator configured (Config.DailyReset, here 05:30:15
// UTC, the simulator's too): the location's calls stop at the cap with a
// PacedError until the reset, the headroom names it as configured, and
// from the reset the calls go on, the day's count starting from zero. No
// 429 on the way.
func TestConfiguredDailyResetDefersToIt(t *testing.T) {
	const daily = 10
	reset := 5*time.Hour + 30*time.Minute + 15*time.Second
	clock := newClock(time.Date(2026, time.March, 11, 5, 0, 0, 0, time.UTC))
	w := newWorldAt(t, 100, time.Second, daily, clock.Now)
	w.admin("PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"dailyReset": reset.String()}}, nil)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now, MaxDefer: 24 * time.Hour, DailyReset: &reset}
	p := w.process(cfg)
	c := w.client(p, tok, ghl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range daily {
		if err := call(ctx, c, loc); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2026, time.March, 11, 5, 30, 15, 0, time.UTC)
	var paced *ratelimit.PacedError
	if _, err := c.Accounts(ctx, loc); !errors.As(err, &paced) {
		t.Fatalf("a call past the cap: %v, want a PacedError", err)
	}
	if until := at.Sub(clock.Now()); paced.Wait < until-time.Minute || paced.Wait > until {
		t.Errorf("paced for %v, want until the configured reset (%v away)", paced.Wait, until)
	}
	hr, err := p.gov.Headroom(ctx, loc)
	if err != nil || hr.DailyUsed != daily || !hr.DailyResetAt.Equal(at) || !hr.DailyResetConfigured {
		t.Fatalf("headroom at the cap: %+v (%v); want %d used, reset at %v, configured", hr, err, daily, at)
	}

	// Ten seconds before the reset (more than MaxWait, which a caller
	// would block for): still paced.
	clock.Jump(at.Sub(clock.Now()) - 10*time.Second)
	if _, err := c.Accounts(ctx, loc); !errors.As(err, new(*ratelimit.PacedError)) {
		t.Fatalf("a call ten seconds before the reset: %v, want a PacedError", err)
	}
	clock.Jump(at.Sub(clock.Now()) + time.Second) // a second after
	for range 3 {
		if err := call(ctx, c, loc); err != nil {
			t.Fatalf("after the reset: %v", err)
		}
	}
	next := at.Add(24 * time.Hour)
	if hr, err := p.gov.Headroom(ctx, loc); err != nil || hr.DailyUsed != 3 || !hr.DailyResetAt.Equal(next) {
		t.Errorf("after the reset: %d used, reset at %v (%v); want 3, %v", hr.DailyUsed, hr.DailyResetAt, err, next)
	}
	// Midnight UTC starts no day: the count goes on to 05:30:15.
	clock.Jump(time.Date(2026, time.March, 12, 0, 0, 1, 0, time.UTC).Sub(clock.Now()))
	if err := call(ctx, c, loc); err != nil {
		t.Fatal(err)
	}
	if hr, err := p.gov.Headroom(ctx, loc); err != nil || hr.DailyUsed != 4 {
		t.Errorf("after midnight UTC: %d used (%v), want 4", hr.DailyUsed, err)
	}
	if n := count429(w.requests(loc)); n > 0 {
		t.Errorf("%d 429s", n)
	}
	// A process without the setting reads the offset the budget carries.
	other := w.process(ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now})
	if hr, err := other.gov.Headroom(ctx, loc); err != nil || !hr.DailyResetAt.Equal(next) || hr.DailyResetConfigured {
		t.Errorf("a process without DailyReset reads the reset at %v, configured %v (%v); want %v, false", hr.DailyResetAt, hr.DailyResetConfigured, err, next)
	}
}

// DailyReset outside 0s to under 24h, or not whole seconds, is refused.
func TestDailyResetValidated(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 24 * time.Hour, 25 * time.Hour, 1500 * time.Millisecond} {
		if _, err := ratelimit.New(nil, ratelimit.Config{DailyReset: &d}); !errors.Is(err, ratelimit.ErrConfig) || !strings.Contains(err.Error(), "DailyReset") {
			t.Errorf("DailyReset %v: %v, want an ErrConfig naming DailyReset", d, err)
		}
	}
	for _, d := range []time.Duration{0, 23*time.Hour + 59*time.Minute + 59*time.Second} {
		if _, err := ratelimit.New(nil, ratelimit.Config{DailyReset: &d}); err != nil {
			t.Errorf("DailyReset %v: %v", d, err)
		}
	}
}
