package contactsync

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
)

// stripes serialises, inside one replica, the handlers that touch the
// same contacts. Across replicas the revision checks on the contact state
// keep the state right; inside one they would too, but every handler that
// loses a race writes its tags to HighLevel again, and those calls count
// against the location's rate limit. Contacts share a lock when their
// keys hash to the same stripe, which only costs some parallelism.
//
// A handler waits for its stripes at most lockWait: the one holding them
// may be waiting for its location's rate permit, and handlers queued
// behind it would hold handler slots that other locations' messages need
// (one location's backlog on the same few contacts would stall them all).
// Past lockWait the message is handed back to JetStream for busyDeferral.
type stripes struct {
	seed  maphash.Seed
	locks [256]chan struct{} // each holds a token while its stripe is locked
}

const (
	lockWait     = 100 * time.Millisecond
	busyDeferral = 500 * time.Millisecond
)

// errBusy is the cause of the deferral of a message whose contacts another
// handler of this replica is working on.
var errBusy = errors.New("another handler of this replica is updating these contacts")

func newStripes() *stripes {
	s := &stripes{seed: maphash.MakeSeed()}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s
}

// lock locks the stripes of keys, in order so that two handlers cannot
// deadlock, and returns the function that unlocks them. When they are not
// all free within lockWait it locks none and returns a bus.Defer error (or
// ctx's error when ctx ends first).
func (s *stripes) lock(ctx context.Context, keys []string) (unlock func(), err error) {
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
	timer := time.NewTimer(lockWait)
	defer timer.Stop()
	for n, i := range idx {
		select {
		case s.locks[i] <- struct{}{}:
		case <-timer.C:
			release(idx[:n])
			return nil, bus.Defer(errBusy, busyDeferral)
		case <-ctx.Done():
			release(idx[:n])
			return nil, ctx.Err()
		}
	}
	return func() { release(idx) }, nil
}
