package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// dailyReport prints loc's HighLevel calls today, from the fleet's shared
// rate budget read through gov, and the forecast of when today's rate
// reaches the daily cap. An unreadable budget is a line of the report, not
// a failure.
//
// The reset is the one SOCIALSYNC_RATE_DAILY_RESET configures (gov's,
// read from the doctor's environment as the workers read it from theirs);
// without it, the one the budget carries (which workers with it
// configured write).
func dailyReport(ctx context.Context, out io.Writer, gov *ratelimit.Governor, loc string, now time.Time) {
	hr, err := gov.Headroom(ctx, loc)
	if err != nil {
		fmt.Fprintf(out, "daily calls: unknown (%v)\n", err)
		return
	}
	fmt.Fprintln(out, dailyLine(hr, now))
}

// dailyLine is the doctor's line about the day's calls of hr, read at now.
func dailyLine(hr ratelimit.Headroom, now time.Time) string {
	pct := 0.0
	if hr.Daily > 0 {
		pct = 100 * float64(hr.DailyUsed) / float64(hr.Daily)
	}
	reset := hr.DailyResetAt.UTC()
	var how string
	switch {
	case hr.DailyResetConfigured:
		how = "configured"
	case reset.Equal(reset.Truncate(24 * time.Hour)):
		how = "midnight UTC until one is learned"
	default:
		how = "learned"
	}
	line := fmt.Sprintf("daily calls: %d of %d today (%.1f%%), reset at %s UTC (%s); ", hr.DailyUsed, hr.Daily, pct,
		reset.Format("15:04:05"), how)
	switch at, ok := hr.DailyForecast(now); {
	case hr.DailyUsed >= hr.Daily:
		line += "cap reached: the location's work is held until the reset"
	case ok:
		line += "at today's rate the cap is reached at " + at.UTC().Format("15:04 UTC") +
			fmt.Sprintf(" (in %v)", at.Sub(now).Round(time.Minute))
	default:
		line += "at today's rate the cap is not reached before the reset"
	}
	if hr.DailyUsed >= ratelimit.BackgroundDaily(hr.Daily) && hr.DailyUsed < hr.Daily {
		line += "; past 90%: only interactive work runs"
	}
	return line
}
