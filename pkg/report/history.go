package report

import (
	"fmt"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// DayLayout is how a day is written: an ISO 8601 date.
const DayLayout = "2006-01-02"

// Window is how many days before the day it was taken a snapshot covers:
// HighLevel's statistics endpoint serves the last seven days.
const Window = 7

// Snapshot is one stored day of the statistics history: the statistics
// endpoint's answers (one per call of at most 100 profiles) taken on Day,
// a location-local date.
type Snapshot struct {
	Day     string
	TakenAt time.Time
	Answers []ghl.Statistics
	// Audience holds, per platform, the demographics of that platform's
	// accounts alone (one answer per call); empty when they were not
	// fetched separately, in which case a location with a single platform
	// uses Answers' demographics.
	Audience map[string][]ghl.Demographics
}

// Covers returns the first and last day the snapshot's series cover:
// Day-7 and Day-1.
func (s Snapshot) Covers() (from, to string, err error) {
	d, err := ParseDay(s.Day)
	if err != nil {
		return "", "", err
	}
	return FormatDay(d.AddDate(0, 0, -Window)), FormatDay(d.AddDate(0, 0, -1)), nil
}

// Values are one platform's figures of one day.
type Values struct {
	Posts       float64 `json:"posts"`
	Impressions float64 `json:"impressions"`
	Likes       float64 `json:"likes"`
	Followers   float64 `json:"followers"`
}

func (v Values) plus(o Values) Values {
	return Values{Posts: v.Posts + o.Posts, Impressions: v.Impressions + o.Impressions, Likes: v.Likes + o.Likes, Followers: v.Followers + o.Followers}
}

// DayFigures are the figures of one calendar day, from the latest snapshot
// that covers it.
type DayFigures struct {
	Day       string            `json:"day"`
	Weekday   string            `json:"weekday"`
	Platforms map[string]Values `json:"platforms"`
	// Comments are over all platforms: the endpoint gives no daily
	// comments per platform.
	Comments float64 `json:"comments"`
	// Source is the day of the snapshot the figures come from.
	Source string `json:"source"`
}

// Total returns the figures summed over platforms; Followers is the sum
// of the platforms' followers that day.
func (d DayFigures) Total() Values {
	var t Values
	for _, v := range d.Platforms {
		t = t.plus(v)
	}
	return t
}

// Daily returns the figures of every day some snapshot covers, keyed by
// day. A day covered by several snapshots takes the latest one's figures
// (the freshest numbers HighLevel gave). A snapshot with an unreadable
// day is skipped.
func Daily(snaps []Snapshot) map[string]DayFigures {
	ordered := slices.Clone(snaps)
	slices.SortFunc(ordered, func(a, b Snapshot) int {
		if a.Day != b.Day {
			return compare(a.Day, b.Day)
		}
		return a.TakenAt.Compare(b.TakenAt)
	})
	out := map[string]DayFigures{}
	for _, s := range ordered {
		taken, err := ParseDay(s.Day)
		if err != nil {
			continue
		}
		days := make([]DayFigures, Window)
		for i := range days {
			d := taken.AddDate(0, 0, i-Window)
			days[i] = DayFigures{Day: FormatDay(d), Weekday: d.Weekday().String(), Platforms: map[string]Values{}, Source: s.Day}
		}
		for _, a := range s.Answers {
			add := func(p string, i int, f func(*Values, float64), series []float64) {
				if i < len(series) {
					v := days[i].Platforms[p]
					f(&v, series[i])
					days[i].Platforms[p] = v
				}
			}
			for i := range Window {
				for p, series := range a.PostPerformance.Posts {
					add(p, i, func(v *Values, x float64) { v.Posts += x }, series)
				}
				for p, st := range a.PlatformTotals.Impressions {
					add(p, i, func(v *Values, x float64) { v.Impressions += x }, st.Series)
				}
				for p, st := range a.PlatformTotals.Likes {
					add(p, i, func(v *Values, x float64) { v.Likes += x }, st.Series)
				}
				for p, st := range a.PlatformTotals.Followers {
					add(p, i, func(v *Values, x float64) { v.Followers += x }, st.Series)
				}
				if i < len(a.PostPerformance.Comments) {
					days[i].Comments += a.PostPerformance.Comments[i]
				}
			}
		}
		for _, d := range days {
			out[d.Day] = d
		}
	}
	return out
}

// ParseDay parses a DayLayout date, as midnight UTC.
func ParseDay(s string) (time.Time, error) {
	t, err := time.Parse(DayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("day %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// FormatDay writes t's date as DayLayout.
func FormatDay(t time.Time) string { return t.Format(DayLayout) }

// DayCount returns how many days from … to holds, both included, computed
// from the dates alone: nothing is built, so a range of ten thousand years
// costs what a week costs. It is an error when either is not a date, from
// is after to, or the range is longer than MaxDays. Every reader of a
// from/to range checks it here before building anything.
func DayCount(from, to string) (int, error) {
	f, err := ParseDay(from)
	if err != nil {
		return 0, err
	}
	t, err := ParseDay(to)
	if err != nil {
		return 0, err
	}
	if f.After(t) {
		return 0, fmt.Errorf("day range %s … %s: the first day is after the last", from, to)
	}
	// Both are midnight UTC, so whole days of seconds apart; time.Duration
	// would saturate past 292 years.
	n := (t.Unix()-f.Unix())/secondsPerDay + 1
	if n > MaxDays {
		return 0, fmt.Errorf("day range %s … %s: %d days, at most %d", from, to, n, MaxDays)
	}
	return int(n), nil
}

const secondsPerDay = 24 * 60 * 60

// Days returns the days from … to, both included; an error as DayCount's
// when the range is not one (checked before any day is built).
func Days(from, to string) ([]string, error) {
	n, err := DayCount(from, to)
	if err != nil {
		return nil, err
	}
	f, _ := ParseDay(from)
	out := make([]string, n)
	for i := range out {
		out[i] = FormatDay(f.AddDate(0, 0, i))
	}
	return out, nil
}

// Shift returns day moved by n days.
func Shift(day string, n int) (string, error) {
	d, err := ParseDay(day)
	if err != nil {
		return "", err
	}
	return FormatDay(d.AddDate(0, 0, n)), nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
