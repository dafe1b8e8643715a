package bus

import (
	"context"
	"hash/maphash"
	"slices"
	"time"
)

// Stripes serialises, inside one replica, the handlers that touch the
// same keys (contacts, in contactsync and the automation worker). Across
// replicas revision checks keep stored state right; inside one they would
// too, but every handler that loses a race writes to HighLevel again, and
// those calls count against the location's rate limit. Keys share a lock
// when they hash to the same stripe, which only costs some parallelism.
//
// A handler waits for its stripes at most StripeWait: the one holding them
// may be waiting for its location's rate permit, and handlers queued
// behind it would hold handler slots that other locations' messages need
// (one location's backlog on the same few contacts would stall them all).
// Past StripeWait the message is handed back to JetStream for BusyDeferral.
type Stripes struct {
	seed  maphash.Seed
	locks [256]chan struct{} // each holds a token while its stripe is locked
}

// StripeWait is the longest Lock waits for busy stripes; BusyDeferral
// is how long the message is then handed back for.
const (
	StripeWait   = 100 * time.Millisecond
	BusyDeferral = 500 * time.Millisecond
)

// NewStripes returns a set of stripes, all free.
func NewStripes() *Stripes {
	s := &Stripes{seed: maphash.MakeSeed()}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s
}

// Lock locks the stripes of keys, in order so that two handlers cannot
// deadlock, and returns the function that unlocks them. When they are not
// all free within StripeWait it locks none and returns a Defer error (or
// ctx's error when ctx ends first).
func (s *Stripes) Lock(ctx context.Context, keys []string) (unlock func(), err error) {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.String(s.seed, k)%uint64(len(s.locks))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	release := func(held []int) {
		for _, i := range slices.Backward(held) {
			<-s.locks[i]
		}
	}
	timer := time.NewTimer(StripeWait)
	defer timer.Stop()
	for n, i := range idx {
		select {
		case s.locks[i] <- struct{}{}:
		case <-timer.C:
			release(idx[:n])
			return nil, Defer(ErrBusy, BusyDeferral)
		case <-ctx.Done():
			release(idx[:n])
			return nil, ctx.Err()
		}
	}
	return func() { release(idx) }, nil
}
