package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// The doctor's daily line: the day's calls, the reset, and when today's
// rate reaches the cap.
func TestDailyLine(t *testing.T) {
	midnight := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	reset := midnight.Add(24 * time.Hour)
	for _, c := range []struct {
		name string
		used int64
		now  time.Time
		want []string
	}{
		{"quiet", 1_000, midnight.Add(12 * time.Hour), []string{"daily calls: 1000 of 200000 today (0.5%), reset at 00:00:00 UTC (midnight UTC until one is learned)", "not reached before the reset"}},
		{"on course for the cap", 150_000, midnight.Add(12 * time.Hour),
			[]string{"150000 of 200000", "the cap is reached at 16:00 UTC (in 4h0m0s)"}},
		{"past 90%", 185_000, midnight.Add(20 * time.Hour), []string{"(92.5%)", "past 90%: only interactive work runs"}},
		{"at the cap", 200_000, midnight.Add(22 * time.Hour), []string{"cap reached: the location's work is held until the reset"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := dailyLine(ratelimit.Headroom{Daily: 200_000, DailyUsed: c.used, DailyResetAt: reset}, c.now)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("dailyLine = %q, want it to say %q", got, w)
				}
			}
		})
	}
}

// The reset's time and where it comes from: configured
// (SOCIALSYNC_RATE_DAILY_RESET), learned from HighLevel, or midnight UTC.
func TestDailyLineNamesTheReset(t *testing.T) {
	day := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at         time.Time
		configured bool
		want       string
	}{
		{day.Add(5*time.Hour + 30*time.Minute + 15*time.Second), true, "reset at 05:30:15 UTC (configured);"},
		{day, true, "reset at 00:00:00 UTC (configured);"},
		{day.Add(21 * time.Hour), false, "reset at 21:00:00 UTC (learned);"},
		{day, false, "reset at 00:00:00 UTC (midnight UTC until one is learned);"},
	} {
		got := dailyLine(ratelimit.Headroom{Daily: 100, DailyUsed: 1, DailyResetAt: c.at, DailyResetConfigured: c.configured}, day.Add(-time.Hour))
		if !strings.Contains(got, c.want) {
			t.Errorf("dailyLine = %q, want it to say %q", got, c.want)
		}
	}
}
