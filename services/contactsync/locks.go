package contactsync

import (
	"hash/maphash"
	"slices"
	"sync"
)

// stripes serialises, inside one replica, the handlers that touch the
// same contacts. Across replicas the revision checks on the contact state
// keep the state right; inside one they would too, but every handler that
// loses a race writes its tags to HighLevel again, and those calls count
// against the location's rate limit. Contacts share a lock when their
// keys hash to the same stripe, which only costs some parallelism.
type stripes struct {
	seed  maphash.Seed
	locks [256]sync.Mutex
}

func newStripes() *stripes { return &stripes{seed: maphash.MakeSeed()} }

// lock locks the stripes of keys, in order so that two handlers cannot
// deadlock, and returns the function that unlocks them.
func (s *stripes) lock(keys []string) (unlock func()) {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.String(s.seed, k)%uint64(len(s.locks))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	for _, i := range idx {
		s.locks[i].Lock()
	}
	return func() {
		for _, i := range slices.Backward(idx) {
			s.locks[i].Unlock()
		}
	}
}
