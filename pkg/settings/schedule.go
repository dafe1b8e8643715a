package settings

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidSpec is a schedule spec JetStream would reject.
var ErrInvalidSpec = errors.New("invalid schedule spec")

// CheckSpec reports whether spec is a schedule JetStream (nats-server
// 2.14+) accepts in a Nats-Schedule header, so that a bad setting is
// reported at start rather than by every schedule publish:
//
//   - a cron expression of exactly six fields, seconds first: "0 0 6 * * *"
//     is 06:00:00 every day. A field is "*" or "?", a number, a range
//     "1-5", a step "*/15" or "10/5", or a comma list of those; months and
//     weekdays also take names ("jan", "mon"). Weekdays run 0 (Sunday) to 6.
//   - "@yearly", "@annually", "@monthly", "@weekly", "@daily",
//     "@midnight" or "@hourly";
//   - "@every <Go duration>" of at least one second, counted from when the
//     schedule was stored; the server rejects a time zone with it;
//   - "@at <RFC 3339 time>", once; no time zone either.
//
// The check is syntactic (field count and characters, durations, times);
// the server remains the judge of ranges.
func CheckSpec(spec string) error {
	switch {
	case spec == "":
		return fmt.Errorf("%w: empty", ErrInvalidSpec)
	case strings.HasPrefix(spec, "@every "):
		d, err := time.ParseDuration(strings.TrimPrefix(spec, "@every "))
		if err != nil || d < time.Second {
			return fmt.Errorf("%w: %q: want @every with a duration of at least 1s", ErrInvalidSpec, spec)
		}
		return nil
	case strings.HasPrefix(spec, "@at "):
		if _, err := time.Parse(time.RFC3339, strings.TrimPrefix(spec, "@at ")); err != nil {
			return fmt.Errorf("%w: %q: want @at with an RFC 3339 time", ErrInvalidSpec, spec)
		}
		return nil
	case strings.HasPrefix(spec, "@"):
		switch spec {
		case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return nil
		}
		return fmt.Errorf("%w: %q: unknown predefined schedule", ErrInvalidSpec, spec)
	}
	fields := strings.Fields(spec)
	if len(fields) != 6 {
		return fmt.Errorf("%w: %q: a cron expression has 6 fields (seconds minutes hours day-of-month month day-of-week), got %d", ErrInvalidSpec, spec, len(fields))
	}
	for _, f := range fields {
		for _, c := range f {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || strings.ContainsRune("*?,-/", c)) {
				return fmt.Errorf("%w: %q: unexpected %q in field %q", ErrInvalidSpec, spec, c, f)
			}
		}
	}
	return nil
}

// TakesTimeZone reports whether the server accepts a time zone with spec:
// cron expressions and predefined schedules do, @every and @at do not.
func TakesTimeZone(spec string) bool {
	return !strings.HasPrefix(spec, "@every ") && !strings.HasPrefix(spec, "@at ")
}
