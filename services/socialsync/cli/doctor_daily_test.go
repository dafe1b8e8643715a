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
		{"quiet", 1_000, midnight.Add(12 * time.Hour), []string{"daily calls: 1000 of 200000 today (0.5%), reset at 00:00 UTC", "not reached before the reset"}},
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
