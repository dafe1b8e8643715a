package snapshot

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/report"
)

// Expired returns the days, among days, older than retention days before
// today: with a retention of 400, a snapshot taken 400 days ago is kept
// and one taken 401 days ago goes. A retention of 0 or less keeps all.
func Expired(days []string, today string, retention int) []string {
	if retention <= 0 {
		return nil
	}
	t, err := time.Parse(report.DayLayout, today)
	if err != nil {
		return nil
	}
	cutoff := t.AddDate(0, 0, -retention).Format(report.DayLayout)
	var out []string
	for _, d := range days {
		if d < cutoff {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// CustomValues returns the custom values the recommendations are written
// to, by name: all prefixed "socialsync_". A recommendation without
// enough data says so, and what is missing, in its value.
func CustomValues(rec report.Recommendations) map[string]string {
	out := map[string]string{
		"socialsync_recommendations_period": rec.From + " … " + rec.To,
	}
	best := strings.Join(rec.BestPlatforms, ", ")
	if best == "" {
		best = "not enough data"
	}
	out["socialsync_best_platforms"] = best
	for _, c := range rec.Cadence {
		p := "socialsync_" + c.Platform + "_"
		if c.Status != report.StatusOK {
			v := "not enough data: need " + strings.Join(c.Missing, "; ")
			out[p+"best_weekdays"] = v
			out[p+"posts_per_week"] = v
			continue
		}
		out[p+"best_weekdays"] = strings.Join(c.BestWeekdays, ", ")
		out[p+"posts_per_week"] = strconv.Itoa(c.SuggestedPostsPerWeek)
	}
	for _, a := range rec.Audience {
		name := "socialsync_" + a.Platform + "_audience"
		if a.Status != report.StatusOK {
			out[name] = "not enough data: need " + strings.Join(a.Missing, "; ")
			continue
		}
		out[name] = fmt.Sprintf("%s %s%%, %s %s%%", a.Gender, FormatNumber(a.GenderShare), a.AgeBand, FormatNumber(a.AgeShare))
	}
	return out
}

// FormatNumber writes a figure as a custom value holds it: no exponent, no
// trailing zeros, at most two decimals.
func FormatNumber(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
