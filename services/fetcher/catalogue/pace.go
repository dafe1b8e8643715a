package catalogue

import (
	"time"
)

// RefreshWait returns how long a refresh of a catalogue last fetched at
// lastFetch must wait, at now, so that one location's catalogue is
// fetched at most once per interval: zero when it may fetch at once (no
// catalogue yet, interval zero, or interval elapsed). The wait is never
// longer than interval, so that a clock set back cannot stall a location.
//
// The pending refresh is not dropped meanwhile: JetStream redelivers it
// after the wait, unless a newer refresh of the same location replaced
// it, and that one is then paced the same way. A burst of triggers thus
// costs one fetch at its start and at most one per interval after.
func RefreshWait(now, lastFetch time.Time, interval time.Duration) time.Duration {
	if interval <= 0 || lastFetch.IsZero() {
		return 0
	}
	elapsed := now.Sub(lastFetch)
	if elapsed >= interval {
		return 0
	}
	return min(interval-elapsed, interval)
}
