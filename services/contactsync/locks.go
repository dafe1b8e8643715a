package contactsync

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
)

// stripes serialises, inside one replica, the handlers that touch the same
// contacts, as bus.Stripes does, with one difference: the post triggers
// whose writes are merged (merge.go) hold their contacts' stripes shared,
// so that several of them plan the same contact at once and their writes
// merge, the states' revision checks keeping them right as between
// replicas; everything else (HighLevel's webhooks and the erasure,
// reconciliation, tag events, contact references) holds them alone.
// A handler waits at most bus.StripeWait, then its message is handed back
// for bus.BusyDeferral. Merged handlers hold their stripes for as long as
// their location's pool takes (seconds while it is paced), so there are
// many more stripes than bus.Stripes has: with a paced location's merging
// places (48 of 64) holding theirs, another location's contact finds its
// stripe taken about once in a hundred (about one in five with 256).
type stripes struct {
	seed  maphash.Seed
	locks [4096]sync.RWMutex
}

func newStripes() *stripes { return &stripes{seed: maphash.MakeSeed()} }

// stripePoll is how often a waiting handler tries its stripes again.
const stripePoll = time.Millisecond

// Lock locks the stripes of keys alone.
func (s *stripes) Lock(ctx context.Context, keys []string) (unlock func(), err error) {
	return s.lock(ctx, keys, false)
}

// Share locks the stripes of keys shared with other sharers.
func (s *stripes) Share(ctx context.Context, keys []string) (unlock func(), err error) {
	return s.lock(ctx, keys, true)
}

func (s *stripes) lock(ctx context.Context, keys []string, shared bool) (func(), error) {
	idx := make([]int, 0, len(keys))
	for _, k := range keys {
		idx = append(idx, int(maphash.String(s.seed, k)%uint64(len(s.locks))))
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	release := func(held []int) {
		for _, i := range slices.Backward(held) {
			if shared {
				s.locks[i].RUnlock()
			} else {
				s.locks[i].Unlock()
			}
		}
	}
	deadline := time.Now().Add(bus.StripeWait)
	for n, i := range idx {
		for {
			var ok bool
			if shared {
				ok = s.locks[i].TryRLock()
			} else {
				ok = s.locks[i].TryLock()
			}
			if ok {
				break
			}
			if err := ctx.Err(); err != nil {
				release(idx[:n])
				return nil, err
			}
			if time.Now().After(deadline) {
				release(idx[:n])
				return nil, bus.Defer(bus.ErrBusy, bus.BusyDeferral)
			}
			time.Sleep(stripePoll)
		}
	}
	return func() { release(idx) }, nil
}
