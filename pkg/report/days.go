package report

import (
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
