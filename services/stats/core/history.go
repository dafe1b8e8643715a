package core

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
)

// ToReport converts a stored snapshot for the report package.
func ToReport(s Snapshot) (report.Snapshot, error) {
	out := report.Snapshot{Day: s.Day, TakenAt: s.TakenAt}
	for i, c := range s.Chunks {
		var st ghl.Statistics
		if err := json.Unmarshal(c.Statistics, &st); err != nil {
			return report.Snapshot{}, fmt.Errorf("snapshot %s, answer %d: %w", s.Day, i, err)
		}
		out.Answers = append(out.Answers, st)
	}
	if len(s.Audience) > 0 {
		out.Audience = map[string][]ghl.Demographics{}
		for p, list := range s.Audience {
			for _, raw := range list {
				var d ghl.Demographics
				if err := json.Unmarshal(raw, &d); err != nil {
					return report.Snapshot{}, fmt.Errorf("snapshot %s, audience of %s: %w", s.Day, p, err)
				}
				out.Audience[p] = append(out.Audience[p], d)
			}
		}
	}
	return out, nil
}

// DayOfKey returns the day of a history key of loc ("<loc>.<day>"); false
// for a key of another location or no day.
func DayOfKey(loc, key string) (string, bool) {
	day, ok := strings.CutPrefix(key, loc+".")
	if !ok {
		return "", false
	}
	if _, err := time.Parse(DayLayout, day); err != nil {
		return "", false
	}
	return day, true
}

// Expired returns the days, among days, older than retention days before
// today: with a retention of 400, a snapshot taken 400 days ago is kept
// and one taken 401 days ago goes. A retention of 0 or less keeps all.
func Expired(days []string, today string, retention int) []string {
	if retention <= 0 {
		return nil
	}
	t, err := time.Parse(DayLayout, today)
	if err != nil {
		return nil
	}
	cutoff := t.AddDate(0, 0, -retention).Format(DayLayout)
	var out []string
	for _, d := range days {
		if d < cutoff {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// Reachable splits the days from … to into those today's statistics call
// covers (today-7 … today-1), those it cannot reach any more (older), and
// those not over yet (today and later).
func Reachable(from, to, today string) (reachable, tooOld, notOver []string, err error) {
	days, err := report.Days(from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	first, err := report.Shift(today, -report.Window)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, d := range days {
		switch {
		case d < first:
			tooOld = append(tooOld, d)
		case d >= today:
			notOver = append(notOver, d)
		default:
			reachable = append(reachable, d)
		}
	}
	return reachable, tooOld, notOver, nil
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
