package contacttags

import (
	"sync"
	"time"
)

// ProbeAfter is how long a bulk size learnt from a 422 stands before the
// next bulk call of the location tries twice as many contacts again
// (up to BulkMax): HighLevel may raise its limit, or the 422 may have had
// another cause.
const ProbeAfter = 24 * time.Hour

// BulkSizes remembers, per location, the most contacts one bulk contact
// tags call may carry. HighLevel documents no maximum: a location starts
// at BulkMax; a bulk call of n contacts answered 422 sets it to n/2; a
// day (ProbeAfter) after the last change it doubles again, and a 422 to
// that probe halves it back for another day. The sizes live in the
// process's memory: a restarted process starts at BulkMax again and
// learns with one 422.
type BulkSizes struct {
	now func() time.Time

	mu    sync.Mutex
	sizes map[string]learnt
}

type learnt struct {
	size int
	at   time.Time // when size was set
}

// NewBulkSizes returns sizes read with the clock now (time.Now when nil).
func NewBulkSizes(now func() time.Time) *BulkSizes {
	if now == nil {
		now = time.Now
	}
	return &BulkSizes{now: now, sizes: map[string]learnt{}}
}

// Size returns the most contacts of loc's next bulk call.
func (b *BulkSizes) Size(loc string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.sizes[loc]
	if !ok {
		return BulkMax
	}
	if now := b.now(); !now.Before(l.at.Add(ProbeAfter)) {
		// A day on: probe upward.
		l = learnt{size: min(l.size*2, BulkMax), at: now}
		if l.size == BulkMax {
			delete(b.sizes, loc)
			return BulkMax
		}
		b.sizes[loc] = l
	}
	return l.size
}

// Refused records that HighLevel refused a bulk call of n contacts for
// loc as too large: loc's size becomes n/2 (at least 1), unless it is
// already smaller.
func (b *BulkSizes) Refused(loc string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	size := max(n/2, 1)
	if l, ok := b.sizes[loc]; ok && l.size <= size {
		return
	}
	b.sizes[loc] = learnt{size: size, at: b.now()}
}
