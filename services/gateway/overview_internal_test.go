package gateway

import (
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// The daily cap's time follows the day's rate so far, within the day
// (the UTC day, or the one the governor learned).
func TestDailyCapAt(t *testing.T) {
	noon := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		used, daily int64
		now         time.Time
		want        string // "" for none
	}{
		{"nothing used", 0, 200_000, noon, ""},
		{"half by noon: at midnight, not today", 100_000, 200_000, noon, ""},
		{"two thirds by noon: at 18:00", 133_333, 200_000, noon, "18:00"},
		{"spent: now", 200_000, 200_000, noon, "12:00"},
		{"too early for a rate", 10, 200_000, noon.Truncate(24 * time.Hour).Add(30 * time.Second), ""},
		{"no cap", 10, 0, noon, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			hr := ratelimit.Headroom{DailyUsed: c.used, Daily: c.daily, DailyResetAt: c.now.Truncate(24 * time.Hour).Add(24 * time.Hour)}
			got := dailyCapAt(hr, c.now)
			switch {
			case c.want == "" && got != nil:
				t.Errorf("dailyCapAt = %v, want none", got)
			case c.want != "" && (got == nil || got.Format("15:04") != c.want):
				t.Errorf("dailyCapAt = %v, want %s", got, c.want)
			}
		})
	}
	// A day that starts at 05:00 UTC (the reset the governor learned):
	// two thirds by 17:00, twelve hours in, is the cap at 23:00.
	hr := ratelimit.Headroom{DailyUsed: 133_333, Daily: 200_000, DailyResetAt: time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)}
	if got := dailyCapAt(hr, time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC)); got == nil || got.Format("15:04") != "23:00" {
		t.Errorf("dailyCapAt with a 05:00 reset = %v, want 23:00", got)
	}
}

// Each condition ranks a location as documented (docs/gateway.md,
// "Locations at a glance").
func TestRank(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	long := now.Add(-30 * 24 * time.Hour)
	budget := ratelimit.Headroom{Max: 100, Window: 10 * time.Second, Daily: 200_000}
	run := now.Add(-time.Hour)
	ok := locationOverview{State: "active", Token: tokenState{Status: "valid"}, LastStatsRun: &run}
	with := func(f func(*locationOverview)) locationOverview { o := ok; f(&o); return o }
	spent := budget
	spent.DailyUsed = 200_000
	paused := budget
	paused.PausedUntil = now.Add(time.Minute)
	soon := now.Add(time.Hour)
	for _, c := range []struct {
		name string
		o    locationOverview
		hr   ratelimit.Headroom
		want int
	}{
		{"ok", ok, budget, rankOK},
		{"needs re-authorisation", with(func(o *locationOverview) { o.Token.Status = "needs_reauth" }), budget, rankTrouble},
		{"marked, token not yet", with(func(o *locationOverview) { o.State = "needs_reauth" }), budget, rankTrouble},
		{"token unreadable", with(func(o *locationOverview) { o.Token.Status = "unknown" }), budget, rankTrouble},
		{"expired, refreshable", with(func(o *locationOverview) { o.Token.Status, o.Token.CanRefresh = "expired", true }), budget, rankOK},
		{"expired for good", with(func(o *locationOverview) { o.Token.Status = "expired" }), budget, rankTrouble},
		{"daily cap spent", ok, spent, rankTrouble},
		{"connecting", with(func(o *locationOverview) { o.State = "connecting" }), budget, rankWarning},
		{"dead letters", with(func(o *locationOverview) { o.DeadLetters = 1 }), budget, rankWarning},
		{"a trigger waiting long", with(func(o *locationOverview) { o.OldestWaitingSeconds = 600 }), budget, rankWarning},
		{"a trigger waiting briefly", with(func(o *locationOverview) { o.OldestWaitingSeconds = 60 }), budget, rankOK},
		{"cap before the day ends", with(func(o *locationOverview) { o.DailyCapAt = &soon }), budget, rankWarning},
		{"paused by HighLevel", ok, paused, rankWarning},
		{"no statistics run", with(func(o *locationOverview) { o.LastStatsRun = nil }), budget, rankWarning},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, problems := rank(c.o, c.hr, long, now)
			if got != c.want || (got == rankOK) != (len(problems) == 0) {
				t.Errorf("rank = %d %q, want %d", got, problems, c.want)
			}
		})
	}
	// A location connected lately has had no time for a statistics run.
	if got, _ := rank(with(func(o *locationOverview) { o.LastStatsRun = nil }), budget, now.Add(-time.Hour), now); got != rankOK {
		t.Errorf("new location without a run: rank %d", got)
	}
}
