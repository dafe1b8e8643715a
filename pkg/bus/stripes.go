package bus

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// Stripes serialises, inside one replica, the handlers that touch the
// same keys (contacts, in contactsync and the automation worker). Across
// replicas revision checks keep stored state right; inside one they would
// too, but every handler that loses a race writes to HighLevel again, and
// those calls count against the location's rate limit. Keys share a lock
// when they hash to the same stripe, which only costs some parallelism.
// A stripe is held either alone (Lock) or shared with other sharers
// (Share), for handlers whose races among themselves are wanted (their
// writes merge) but not with the others.
//
// A handler waits for its stripes at most StripeWait: the one holding them
// may be waiting for its location's rate permit, and handlers queued
// behind it would hold handler slots that other locations' messages need
// (one location's backlog on the same few contacts would stall them all).
// Past StripeWait the message is handed back to JetStream for BusyDeferral.
type Stripes struct {
	seed    maphash.Seed
	stripes []stripe
}

// stripe is one lock of Stripes.
type stripe struct {
	mu      sync.Mutex
	sharers int  // handlers holding it shared
	alone   bool // a handler holds it alone
	// freed, when someone waits, is closed when the stripe frees up
	// (alone released, or the last sharer gone).
	freed chan struct{}
}

// StripeWait is the longest Lock waits for busy stripes; BusyDeferral
// is how long the message is then handed back for.
const (
	StripeWait   = 100 * time.Millisecond
	BusyDeferral = 500 * time.Millisecond
)

// DefaultStripes is how many stripes NewStripes makes without StripeCount.
const DefaultStripes = 256

// StripesOption configures NewStripes.
type StripesOption func(*Stripes)

// StripeCount makes n stripes (n > 0) instead of DefaultStripes: more
// when handlers hold theirs long, so that unrelated keys seldom share one.
func StripeCount(n int) StripesOption {
	return func(s *Stripes) {
		if n > 0 {
			s.stripes = make([]stripe, n)
		}
	}
}

// NewStripes returns a set of stripes, all free.
func NewStripes(opts ...StripesOption) *Stripes {
	s := &Stripes{seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(s)
	}
	if s.stripes == nil {
		s.stripes = make([]stripe, DefaultStripes)
	}
	return s
}

// Lock locks the stripes of keys alone, in order so that two handlers
// cannot deadlock, and returns the function that unlocks them. When they
// are not all free within StripeWait it locks none and returns a Defer
// error (or ctx's error when ctx ends first).
func (s *Stripes) Lock(ctx context.Context, keys []string) (unlock func(), err error) {
	return s.lock(ctx, keys, false)
}

// Share is Lock, except that the stripes are held shared with other
// sharers: it waits only for stripes held alone, and Lock waits for the
// last sharer.
func (s *Stripes) Share(ctx context.Context, keys []string) (unlock func(), err error) {
	return s.lock(ctx, keys, true)
}

func (s *Stripes) lock(ctx context.Context, keys []string, shared bool) (func(), error) {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.String(s.seed, k)%uint64(len(s.stripes))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	release := func(held []int) {
		for _, i := range slices.Backward(held) {
			s.stripes[i].release(shared)
		}
	}
	timer := time.NewTimer(StripeWait)
	defer timer.Stop()
	for n, i := range idx {
		for {
			freed := s.stripes[i].take(shared)
			if freed == nil {
				break
			}
			select {
			case <-freed:
			case <-timer.C:
				release(idx[:n])
				return nil, Defer(ErrBusy, BusyDeferral)
			case <-ctx.Done():
				release(idx[:n])
				return nil, ctx.Err()
			}
		}
	}
	return func() { release(idx) }, nil
}

// take takes the stripe, shared or alone, and returns nil, or, when it
// is busy, a channel closed once it frees up.
func (st *stripe) take(shared bool) <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case shared && !st.alone:
		st.sharers++
		return nil
	case !shared && !st.alone && st.sharers == 0:
		st.alone = true
		return nil
	}
	if st.freed == nil {
		st.freed = make(chan struct{})
	}
	return st.freed
}

// release gives the stripe up and wakes its waiters once it is free.
func (st *stripe) release(shared bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if shared {
		st.sharers--
	} else {
		st.alone = false
	}
	if st.freed != nil && st.sharers == 0 {
		close(st.freed)
		st.freed = nil
	}
}
