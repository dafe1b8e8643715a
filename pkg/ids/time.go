package ids

import (
	"fmt"
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
		return newError(field, fmt.Sprintf("a time at most %s ahead of the receiving clock (it is %s ahead)", MaxAhead, d.Round(time.Second)), at.UTC().Format(time.RFC3339Nano))
	}
	if d := now.Sub(at); d > MaxBehind {
		return newError(field, fmt.Sprintf("a time at most %d days behind the receiving clock (it is %d days behind)", int(MaxBehind/(24*time.Hour)), int(d/(24*time.Hour))), at.UTC().Format(time.RFC3339Nano))
	}
	return nil
}
