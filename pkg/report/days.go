package report

import (
	"errors"
	"fmt"
	"time"
)

// LoadZone returns the IANA time zone name; an empty name is UTC.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		// time.LoadLocation accepts it, but it means the host's zone.
		return nil, fmt.Errorf("time zone %q is not an IANA zone", name)
	}
	tz, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return tz, nil
}

// Zone returns a location's time zone; UTC when its name is unknown, as
// the stats worker counts days.
func Zone(name string) *time.Location {
	tz, err := LoadZone(name)
	if err != nil {
		return time.UTC
	}
	return tz
}

// Day returns the calendar day of t in tz, as DayLayout.
func Day(t time.Time, tz *time.Location) string { return t.In(tz).Format(DayLayout) }

// Reachable splits the days from … to into those today's statistics call
// covers (today-7 … today-1), those it cannot reach any more (older), and
// those not over yet (today and later).
func Reachable(from, to, today string) (reachable, tooOld, notOver []string, err error) {
	days, err := Days(from, to)
	if err != nil {
		return nil, nil, nil, err
	}
	first, err := Shift(today, -Window)
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

// ErrOutOfReach is a statistics request's day range that reaches days
// HighLevel's statistics endpoint does not serve: older than the Window
// days before today, or not over yet.
var ErrOutOfReach = errors.New("out of the statistics endpoint's reach")

// CheckRequestRange checks the day range of a statistics request: the
// location-local days from … to, to excluded (socialsyncv1.DateRange),
// against today, the location-local day the request arrived on. Each day
// must be one the statistics endpoint still serves, today-Window …
// today-1; the error (ErrOutOfReach for days outside) names that limit.
func CheckRequestRange(from, to, today string) error {
	if from == "" || to == "" {
		return fmt.Errorf("range: want both from and to (YYYY-MM-DD, to excluded), got %q … %q", from, to)
	}
	for _, d := range []string{from, to, today} {
		if _, err := ParseDay(d); err != nil {
			return fmt.Errorf("range: %w", err)
		}
	}
	if to <= from {
		return fmt.Errorf("range %s … %s: want from before to (to is excluded)", from, to)
	}
	first, _ := Shift(today, -Window)
	yesterday, _ := Shift(today, -1)
	last, _ := Shift(to, -1)
	switch {
	case from < first:
		return fmt.Errorf("%w: range %s … %s reaches back before %s: HighLevel's statistics endpoint serves only the last %d days (%s … %s); older days come only from the stored history",
			ErrOutOfReach, from, last, first, Window, first, yesterday)
	case last >= today:
		return fmt.Errorf("%w: range %s … %s includes %s, which is not over: HighLevel's statistics endpoint serves only the last %d days (%s … %s)",
			ErrOutOfReach, from, last, max(from, today), Window, first, yesterday)
	}
	return nil
}
