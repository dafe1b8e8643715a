package ids

import (
	"fmt"
	"math"
	"time"
)

const (
	// MaxAhead is how far ahead of the receiving clock an occurred-at time
	// may be: the clock skew allowed between a source and socialsync.
	MaxAhead = 5 * time.Minute
	// MaxBehind is how far behind the receiving clock an occurred-at time
	// may be: older events are refused rather than ordered.
	MaxBehind = 400 * 24 * time.Hour
)

// CheckOccurredAt fails with an *Error naming field when at is more than
// MaxAhead ahead of now or more than MaxBehind behind it. now is the
// receiving clock: the gateway's when it answers a request, the stream
// timestamp of a consumed message. A zero at (the source did not say) is
// valid.
func CheckOccurredAt(field string, at, now time.Time) error {
	if at.IsZero() {
		return nil
	}
	if d := at.Sub(now); d > MaxAhead {
		return newError(field, fmt.Sprintf("a time at most %s ahead of the receiving clock (it is %s ahead)", MaxAhead, span(d)), at.UTC().Format(time.RFC3339Nano))
	}
	if d := now.Sub(at); d > MaxBehind {
		return newError(field, fmt.Sprintf("a time at most %d days behind the receiving clock (it is %s behind)", int(MaxBehind/(24*time.Hour)), span(d)), at.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// span states d in seconds up to two days and in days beyond ("more than"
// when the difference overflowed a Duration).
func span(d time.Duration) string {
	switch {
	case d == math.MaxInt64:
		return "more than 290 years"
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	default:
		return fmt.Sprintf("%d days", int64(d/(24*time.Hour)))
	}
}
