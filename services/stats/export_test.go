package stats

import (
	"time"
)

// SetClock makes w read the time from now: the day a snapshot belongs to,
// and the reports' generation time.
func SetClock(w *Worker, now func() time.Time) { w.SetClock(now) }
