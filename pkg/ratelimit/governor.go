package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

const (
	// kvTimeout bounds one read-modify-write of a budget.
	kvTimeout = 5 * time.Second
	// maxPumpSleep bounds how long a pump sleeps before it looks again
	// whether anybody still waits.
	maxPumpSleep = time.Second
	// minDeferral is the least a caller is told to stay away.
	minDeferral = 10 * time.Millisecond
	// earlyReturn is how much before its permit is due a deferred caller
	// is told to come back: a redelivered message takes a few
	// milliseconds to reach Acquire, and a permit nobody takes when it
	// frees is budget lost. A caller whose permit is that close always
	// waits for it, MaxWaiters or not: it holds its slot that long at most.
	earlyReturn = 50 * time.Millisecond
	// staleAfter is how old a copy of a budget holding another process's
	// open permits may be and still refuse a permit.
	staleAfter = 50 * time.Millisecond
	// keyPrefix starts every budget's key in the bucket.
	keyPrefix = "budget."
)

// Governor hands out permits for HighLevel requests so that the fleet as a
// whole, however many processes it has, stays within each location's
// limits. It is safe for concurrent use; a process needs one, and it
// implements ghl.Limiter.
type Governor struct {
	kv  jetstream.KeyValue
	cfg Config
	lim limits
	// closed is set by Close: no more leases.
	closed atomic.Bool

	mu        sync.Mutex
	resources map[string]*resource
	// swept is when resources was last rid of idle entries.
	swept time.Time
}

var _ ghl.Limiter = (*Governor)(nil)

// resource is this process's side of one location's budget.
type resource struct {
	id, key string
	// proc names this side's open permits in the budget: random, and
	// new whenever the process takes the location up again.
	proc int64

	// kvmu serialises this process's reads and writes of the key, so they
	// never conflict with each other; it guards cache and rev.
	kvmu  sync.Mutex
	cache budget
	rev   uint64 // 0: the key is absent, or was never read
	read  bool

	// mu guards the rest; it is never held during I/O.
	mu      sync.Mutex
	waiters []*waiter
	pumping bool
	// view is a copy of cache for estimates; viewOK once there is one.
	view   budget
	viewOK bool
	// fresh is when the copy was last known current: read, or written at
	// the revision it rests on (a copy of cache's, for estimates).
	fresh time.Time
	// deferred are the times that callers told to come back later were
	// given and that are still ahead, by lane, so that each is given its
	// own permit's time.
	deferred [2][]time.Time
	// wantUntil is until when this process's interactive callers want
	// permits (µs): the latest time a deferred one was told to come back;
	// wantWritten is the part of it the budget has (lanes.go).
	wantUntil, wantWritten int64
	// open counts the permits this process handed out for the resource
	// and has not released; pending are the releases not yet written to
	// the budget (µs, 0 for a permit never used), which the pump writes.
	open    int64
	pending []int64
	// wake interrupts the pump's sleep when a release comes, or a caller
	// while the pump is idle.
	wake chan struct{}
	// idle is set while the pump sleeps with nothing to do but a lease's
	// end (lease.go).
	idle bool
	// napping is set while the pump sleeps until the next permit of the
	// waiters it could not serve; napLanes holds the lanes they wait in.
	// A caller of another lane wakes it: its permit may be free now (a
	// background waiter's next permit a second away, an interactive one
	// free).
	napping  bool
	napLanes [2]bool
	// Leases (lease.go): lease is the unspent leased permits by lane
	// (part of open), leaseUntil when each lane's lease ends (µs); spent
	// counts the leased permits handed out that the budget has not been
	// told of; returns counts the leases given back, returned how many of
	// them the budget knows of.
	lease, leaseUntil [2]int64
	spent             int64
	returns, returned int64
	// back counts the leased permits given back (expire) that the budget
	// has not been told of: its copy still counts them as this
	// process's (own).
	back int64
	// lastUsed is when the resource was last asked for (guarded by the
	// Governor's mu).
	lastUsed time.Time
}

// waiter is a blocked caller of Acquire or Wait.
type waiter struct {
	ready chan struct{} // closed when done
	err   error
	// deadline is when a caller of Acquire stops waiting; zero for Wait.
	deadline time.Time
	lane     ghl.Lane
	// inMemory is a caller that retries itself (ghl.WithInMemoryRetry).
	inMemory bool
}

// Open returns a Governor on the socialsync_rate_budget bucket, which
// topology.Ensure declares.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Governor, error) {
	kv, err := js.KeyValue(ctx, topology.BucketRateBudget)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketRateBudget, err)
	}
	return New(kv, cfg)
}

// New returns a Governor keeping its budgets in kv.
func New(kv jetstream.KeyValue, cfg Config) (*Governor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Governor{kv: kv, cfg: cfg, lim: cfg.limits(), resources: map[string]*resource{}}, nil
}

// Config returns the configuration in effect, defaults filled in.
func (g *Governor) Config() Config { return g.cfg }

// Acquire takes one permit for a request to HighLevel for loc (a location
// id, or a company id for agency calls). It blocks when the permit is at
// most MaxWait away and fewer than MaxWaiters others of this process wait
// for the same location (or when the permit is only moments away);
// otherwise it returns a *PacedError at once, telling when to come back.
// It returns ctx's error when ctx ends first.
//
// The permit holds loc's budget until its Release is called, and a window
// (plus Guard) after: the caller must call it exactly once, when the
// request's response (or failure) has come, or at once when it will not
// send the request. A second call does nothing. ghl.Client does this.
func (g *Governor) Acquire(ctx context.Context, loc string) (ghl.Release, error) {
	return g.acquire(ctx, loc, true)
}

// Wait takes one permit for loc, blocking however long that takes, until
// ctx ends. It is for callers with nothing else to do meanwhile (a
// command, a benchmark); message handlers use Acquire. The permit is
// released as Acquire's is.
func (g *Governor) Wait(ctx context.Context, loc string) (ghl.Release, error) {
	return g.acquire(ctx, loc, false)
}

// Check returns the *PacedError Acquire would return for loc now, for a
// call of the interactive lane, without taking a permit, or nil when
// Acquire would hand one out or wait for it. A message handler calls it
// before the work that precedes its HighLevel call (reads, locks), so
// that a paced location's backlog is handed back at the cost of nothing
// but the check. CheckLane checks for a lane.
func (g *Governor) Check(loc string) error {
	return g.CheckLane(loc, ghl.LaneInteractive)
}

// CheckLane is Check for a call of lane.
func (g *Governor) CheckLane(loc string, lane ghl.Lane) error {
	return g.check(loc, lane, true)
}

// PeekLane is CheckLane for a caller that may keep its work in memory
// rather than be deferred (a message that stays to have its write merged,
// contactsync): the *PacedError tells of the first permit after this
// process's waiters, and promises none (ghl.WithInMemoryRetry). A caller
// that is deferred after all asks CheckLane for its promised return:
// promises for callers that stayed would push every deferred message's
// return a permit further each.
func (g *Governor) PeekLane(loc string, lane ghl.Lane) error {
	return g.check(loc, lane, false)
}

func (g *Governor) check(loc string, lane ghl.Lane, promise bool) error {
	r, err := g.resource(loc)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := g.cfg.Now()
	if !g.refuses(r, now, g.cfg.MaxWait, lane) {
		return nil
	}
	return &PacedError{Loc: loc, Wait: g.deferral(r, now, lane, promise)}
}

// refuses reports whether a caller of Acquire in lane that may wait limit
// would be refused now. The caller holds r.mu.
func (g *Governor) refuses(r *resource, now time.Time, limit time.Duration, lane ghl.Lane) bool {
	if r.leased(micros(now), lane) || g.outdated(r, r.view, r.fresh, now) {
		return false // a leased permit; or the pump reads the budget again, and answers
	}
	est := r.estimate(now, r.ahead(lane)+1, lane, g.lim)
	return est > limit || (est > min(earlyReturn, limit) && r.inLane(lane) >= g.cfg.MaxWaiters)
}

func (g *Governor) acquire(ctx context.Context, loc string, bounded bool) (ghl.Release, error) {
	r, err := g.resource(loc)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lane := ghl.LaneOf(ctx)
	r.mu.Lock()
	now := g.cfg.Now()
	if r.spend(micros(now), lane) {
		r.mu.Unlock()
		return g.permit(r, &waiter{})
	}
	if bounded {
		limit := g.cfg.MaxWait
		if dl, ok := ctx.Deadline(); ok {
			limit = min(limit, time.Until(dl))
		}
		if g.refuses(r, now, limit, lane) {
			wait := g.deferral(r, now, lane, !ghl.RetriesInMemory(ctx))
			r.mu.Unlock()
			return nil, &PacedError{Loc: loc, Wait: wait}
		}
	}
	w := &waiter{ready: make(chan struct{}), lane: lane, inMemory: ghl.RetriesInMemory(ctx)}
	if bounded {
		w.deadline = now.Add(g.cfg.MaxWait)
	}
	r.waiters = append(r.waiters, w)
	g.kick(r, lane)
	r.mu.Unlock()

	var expired <-chan time.Time
	if bounded {
		t := time.NewTimer(g.cfg.MaxWait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-w.ready:
		return g.permit(r, w)
	case <-ctx.Done():
		r.mu.Lock()
		served := !r.leave(w)
		r.mu.Unlock()
		if served && w.err == nil {
			// Handed out meanwhile, but the caller is gone: the permit
			// goes back unused.
			g.release(r, 0)
		}
		return nil, ctx.Err()
	case <-expired:
		r.mu.Lock()
		if !r.leave(w) {
			r.mu.Unlock()
			return g.permit(r, w) // served meanwhile
		}
		defer r.mu.Unlock()
		return nil, &PacedError{Loc: loc, Wait: g.deferral(r, g.cfg.Now(), lane, !w.inMemory)}
	}
}

// permit returns what a served waiter gets: its error, or the Release of
// the permit the pump handed it.
func (g *Governor) permit(r *resource, w *waiter) (ghl.Release, error) {
	if w.err != nil {
		return nil, w.err
	}
	var once sync.Once
	return func(info ghl.ResponseInfo) {
		once.Do(func() {
			g.observe(r, info)
			g.release(r, micros(g.cfg.Now()))
		})
	}, nil
}

// release records that a permit of r ended at (µs; 0: never used), for the
// pump to write. The release is not written at once: a closed permit
// counts from at, whenever the budget learns of it, and the pump folds the
// releases that came meanwhile into its next write.
func (g *Governor) release(r *resource, at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.open--
	r.pending = append(r.pending, at)
	if r.pumping {
		r.wakePump()
		return
	}
	g.startPump(r)
}

// wakePump interrupts the pump's sleep, if it sleeps. The caller holds
// r.mu.
func (r *resource) wakePump() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// startPump starts r's pump unless it runs. The caller holds r.mu.
func (g *Governor) startPump(r *resource) {
	if !r.pumping {
		r.pumping = true
		go g.pump(r)
	}
}

// kick has r's pump look at once for a caller of lane: it starts the
// pump, or wakes it when it sleeps only until a lease's end, or until the
// permit of waiters of the other lane only. The caller holds r.mu.
func (g *Governor) kick(r *resource, lane ghl.Lane) {
	g.startPump(r)
	if r.idle || (r.napping && !r.napLanes[lane]) {
		r.wakePump()
	}
}

// resource returns this process's side of loc's budget.
func (g *Governor) resource(loc string) (*resource, error) {
	if !ghl.ValidID(loc) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidKey, truncate(loc))
	}
	now := g.cfg.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.swept) >= g.cfg.IdleTTL/2 {
		g.evict(now)
	}
	r := g.resources[loc]
	if r == nil {
		r = &resource{id: loc, key: keyPrefix + loc, proc: rand.Int64N(1<<62-1) + 1, wake: make(chan struct{}, 1)}
		g.resources[loc] = r
	}
	r.lastUsed = now
	return r, nil
}

// evict forgets the resources unused for IdleTTL that nobody waits for,
// with no permit open and no release to write: their state is all in the
// bucket. A caller still holding one works on as before; the next one
// starts afresh from the bucket. The caller holds g.mu.
func (g *Governor) evict(now time.Time) {
	g.swept = now
	for id, r := range g.resources {
		if now.Sub(r.lastUsed) < g.cfg.IdleTTL {
			continue
		}
		r.mu.Lock()
		idle := !r.pumping && len(r.waiters) == 0 && r.open == 0 && r.settled()
		r.mu.Unlock()
		if idle {
			delete(g.resources, id)
		}
	}
}

// pump hands out permits to r's waiters, oldest first, taking them from the
// shared budget in one write for all the waiters it can serve, and writes
// the releases of r's permits in the same write, until nobody waits and
// nothing is left to write. One pump runs per resource and process.
func (g *Governor) pump(r *resource) {
	var failing time.Time // since when writes fail
	for {
		r.mu.Lock()
		now := micros(g.cfg.Now())
		r.expire(now, false)
		r.serveLeased(now)
		n := len(r.waiters)
		nB := int64(r.inLane(ghl.LaneBackground))
		want := r.wantUntil
		rel := slices.Clone(r.pending)
		open := r.open
		spent, unspent, returns, back, leaseEnd := r.spent, r.unspent(), r.returns, r.back, r.leaseEnd()
		quiet := n == 0 && (want <= r.wantWritten || !failing.IsZero())
		if quiet && leaseEnd > now && failing.IsZero() && (len(rel) == 0 || g.farFromFull(r, now)) {
			// A lease stands: the releases wait for its end, or for the
			// next write, to be written together, while the budget is far
			// from full. Nearer full, others may wait for the permits they
			// free: a release not written is an open permit to them, which
			// they count until a window from now.
			r.idle = true
			r.mu.Unlock()
			select {
			case <-r.wake:
			case <-after(durationMicros(leaseEnd - now)):
			}
			r.mu.Lock()
			r.idle = false
			r.mu.Unlock()
			continue
		}
		if quiet && (r.settled() || g.moot(failing)) {
			r.pending = nil
			r.spent = 0
			r.returned = r.returns
			r.back = 0
			r.pumping = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()

		var gotI, gotB, leaseI, leaseB, until int64
		var wait time.Duration
		size := int64(g.cfg.Lease)
		if g.closed.Load() || g.previousReaders() {
			size = 0
		}
		ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
		err := g.update(ctx, r, func(b *budget, now int64) bool {
			b.release(r.proc, open, rel, now, g.lim)
			changed := b.report(r.proc, spent, unspent, leaseEnd)
			gotI, gotB, wait, leaseI, leaseB = 0, 0, 0, 0, 0
			changed = b.want(now, want, g.lim) || changed
			if n > 0 {
				var took bool
				gotI, gotB, wait, took = b.takeLanes(now, int64(n)-nB, nB, r.proc, g.lim)
				changed = changed || took
				// Callers all served: the lane's next ones may find a lease.
				until = now + g.cfg.leaseFor().Microseconds()
				if nI := int64(n) - nB; size > 0 && nI > 0 && gotI == nI {
					if leaseI = b.lease(now, until, size, r.proc, g.lim); leaseI > 0 {
						b.interactiveAt = max(b.interactiveAt, until)
					}
				}
				if size > 0 && nB > 0 && gotB == nB {
					if leaseB = b.lease(now, until, size, r.proc, b.forLane(now, g.lim, ghl.LaneBackground)); leaseB > 0 {
						b.backgroundAt = max(b.backgroundAt, until)
					}
				}
				changed = changed || leaseI+leaseB > 0
			}
			return changed || len(rel) > 0
		})
		cancel()

		r.mu.Lock()
		if err != nil {
			for _, w := range r.waiters {
				w.err = err
				close(w.ready)
			}
			r.waiters = nil
			r.mu.Unlock()
			// The releases stay pending: the next write takes them, or,
			// when the bucket stays out of reach, they are dropped once
			// moot (see moot).
			if failing.IsZero() {
				failing = g.cfg.Now()
			}
			sleep(maxPumpSleep)
			continue
		}
		failing = time.Time{}
		r.wantWritten = max(r.wantWritten, want)
		r.pending = slices.Delete(r.pending, 0, len(rel))
		r.spent -= spent
		r.returned = returns
		r.back -= back
		for ln, got := range [2]int64{leaseI, leaseB} {
			if got > 0 {
				r.lease[ln] += got
				r.leaseUntil[ln] = until
				r.open += got
			}
		}
		if g.closed.Load() {
			r.expire(0, true) // Close came meanwhile
		}
		// A permit whose waiter left meanwhile goes back unused: the
		// next write counts the open permits without it.
		served := r.serve(gotI, gotB)
		r.open += served
		for range gotI + gotB - served {
			r.pending = append(r.pending, 0)
		}
		got := gotI + gotB
		if got == 0 && n > 0 {
			g.answer(r, g.cfg.Now(), wait)
			// wait is for the lanes of the waiters this write was for: a
			// waiter of another lane that came meanwhile is looked at
			// now, and one that comes during the sleep wakes it.
			r.napping, r.napLanes = true, [2]bool{int64(n) > nB, nB > 0}
			for _, w := range r.waiters {
				if !r.napLanes[w.lane] {
					r.napping = false
				}
			}
		}
		napping := r.napping
		r.mu.Unlock()
		if napping {
			select {
			case <-r.wake:
			case <-nap(min(max(wait, time.Millisecond), maxPumpSleep)):
			}
			r.mu.Lock()
			r.napping = false
			r.mu.Unlock()
		}
	}
}

// moot reports whether releases that could not be written since failing
// (zero: they can) no longer matter: for longer than the flight bound and
// a window, this process handed out no permit for the resource, so its
// open entry has expired in the budget, and its closed permits with it.
func (g *Governor) moot(failing time.Time) bool {
	return !failing.IsZero() && g.cfg.Now().Sub(failing) > durationMicros(g.lim.flight+g.lim.span)
}

// answer answers at once the callers of Acquire that would give up before
// their permit, and those beyond MaxWaiters whose permit is more than
// moments away (let in on an outdated copy of the budget, see outdated):
// they learn they are paced without waiting for MaxWait. wait is how far
// the next permit is. The caller holds r.mu, and the view is the copy
// that said wait.
func (g *Governor) answer(r *resource, now time.Time, wait time.Duration) {
	var kept, paced []*waiter
	for _, w := range r.waiters {
		if w.deadline.IsZero() {
			kept = append(kept, w)
			continue
		}
		ahead, same := 0, 0
		for _, k := range kept {
			if k.lane <= w.lane {
				ahead++
			}
			if k.lane == w.lane {
				same++
			}
		}
		est := max(wait, r.estimate(now, ahead+1, w.lane, g.lim))
		if w.deadline.Before(now.Add(est)) || (same >= g.cfg.MaxWaiters && est > earlyReturn) {
			paced = append(paced, w)
			continue
		}
		kept = append(kept, w)
	}
	r.waiters = kept
	for _, w := range paced {
		w.err = &PacedError{Loc: r.id, Wait: g.deferral(r, now, w.lane, !w.inMemory)}
		close(w.ready)
	}
}

// leave removes w from the waiters and reports whether it was there (not
// served yet). The caller holds r.mu.
func (r *resource) leave(w *waiter) bool {
	i := slices.Index(r.waiters, w)
	if i < 0 {
		return false
	}
	r.waiters = slices.Delete(r.waiters, i, i+1)
	return true
}

// estimate returns how long the k-th next permit of lane is at least
// away, by this process's latest copy of the budget, with its own entry
// as the process knows it (own): the others' grants since can only make
// it longer. The caller holds r.mu.
func (r *resource) estimate(now time.Time, k int, lane ghl.Lane, l limits) time.Duration {
	if !r.viewOK {
		return 0
	}
	us := micros(now)
	b := r.own(us)
	return b.eta(us, int64(k), b.forLane(us, l, lane))
}

// deferral returns how long a caller of lane that cannot wait now should
// stay away: until just before the permit after those of the waiters and
// of the callers deferred before it, in its lane and the lanes before it,
// so that a backlog comes back at the pace permits free up, neither all at
// once nor later than needed. Promised (a deferred message), that permit
// is counted for the callers deferred after it; a caller that retries in
// memory (ghl.WithInMemoryRetry) is told of the first permit after the
// waiters' and is promised none: its retries, every few hundred
// milliseconds while it holds work, would otherwise pile promises up that
// nobody takes, and push every deferred message's return a permit
// further each (a backlog's last messages came back a window apart). A
// deferred interactive caller is demand the budget learns (lanes.go): the
// pump writes it. The caller holds r.mu.
func (g *Governor) deferral(r *resource, now time.Time, lane ghl.Lane, promise bool) time.Duration {
	l := g.lim
	k := r.ahead(lane)
	for _, ln := range ghl.Lanes {
		r.deferred[ln] = slices.DeleteFunc(r.deferred[ln], func(t time.Time) bool { return !t.After(now) })
		if ln <= lane && promise {
			k += len(r.deferred[ln])
		}
	}
	est := r.estimate(now, k+1, lane, l)
	wait := min(max(est-earlyReturn, minDeferral), g.cfg.MaxDefer)
	if promise {
		r.deferred[lane] = append(r.deferred[lane], now.Add(wait))
	}
	if lane == ghl.LaneInteractive {
		r.wantUntil = max(r.wantUntil, micros(now.Add(wait+earlyReturn)))
		g.kick(r, lane)
	}
	return wait
}

// observe learns from a response of HighLevel (the Release of each permit
// tells it): a 429 pauses the location for every process of the fleet
// for its Retry-After (or the window when it has none); fewer requests
// remaining than the budget believes (someone outside the budget made
// requests) takes the difference from the budget, for the window and for
// the day. Only the location concerned slows down.
func (g *Governor) observe(r *resource, info ghl.ResponseInfo) {
	id := r.id
	if info.StatusCode == 0 || (info.StatusCode != http.StatusTooManyRequests && !info.RateLimit.Present) {
		return
	}
	o := observation{status: info.StatusCode, rateLimit: info.RateLimit}
	var e *ghl.Error
	if errors.As(info.Err, &e) {
		o.retryAfter = e.RetryAfter
	}
	var err error
	// Most responses teach nothing, which this process's copy can tell
	// without a read: a fresher budget is only more cautious.
	r.mu.Lock()
	teaches := !r.viewOK || r.view.learn(micros(g.cfg.Now()), o, g.lim, false)
	r.mu.Unlock()
	if !teaches {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	var changed bool
	err = g.update(ctx, r, func(b *budget, now int64) bool {
		changed = b.learn(now, o, g.lim, true)
		return changed
	})
	switch {
	case err != nil:
		g.cfg.Log.Warn("rate budget not updated", "location", id, "err", err)
	case changed && o.status == http.StatusTooManyRequests:
		g.cfg.Log.Info("rate limited; location paused", "location", id, "retry_after", o.retryAfter)
	case changed:
		g.cfg.Log.Debug("requests outside the budget; budget reduced", "location", id,
			"remaining", o.rateLimit.Remaining, "daily_remaining", o.rateLimit.DailyRemaining)
	}
}

// update applies fn to r's budget and writes the result with
// compare-and-set, when fn reports a change. It starts from this process's
// copy; on a conflict it reads the budget again and applies fn again, so
// fn must decide from the budget it is given only.
func (g *Governor) update(ctx context.Context, r *resource, fn func(b *budget, now int64) bool) error {
	r.kvmu.Lock()
	defer r.kvmu.Unlock()
	stale := !r.read || g.outdated(r, r.cache, r.fresh, g.cfg.Now())
	for {
		if stale {
			if err := g.load(ctx, r); err != nil {
				return err
			}
		}
		b := r.cache.clone()
		now := micros(g.cfg.Now())
		b.settle(now, g.lim)
		if !fn(&b, now) {
			r.store(b, r.rev, r.fresh)
			return nil
		}
		data := b.marshal(g.previousReaders())
		var rev uint64
		var err error
		if r.rev == 0 {
			rev, err = g.kv.Create(ctx, r.key, data)
		} else {
			rev, err = g.kv.Update(ctx, r.key, data, r.rev)
		}
		switch {
		case err == nil:
			r.store(b, rev, g.cfg.Now())
			return nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			stale = true // another process wrote first
		default:
			// The write may have landed: read before the next one.
			r.read = false
			return fmt.Errorf("write rate budget of %s: %w", r.id, err)
		}
	}
}

// load reads r's budget into r.cache. The caller holds r.kvmu.
func (g *Governor) load(ctx context.Context, r *resource) error {
	e, err := g.kv.Get(ctx, r.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		var b budget
		b.configure(g.lim)
		r.store(b, 0, g.cfg.Now())
		return nil
	case err != nil:
		return fmt.Errorf("read rate budget of %s: %w", r.id, err)
	}
	b, err := unmarshalBudget(e.Value())
	if err != nil {
		// Whatever wrote it, the window may be full: count it so, which
		// heals by itself one window later.
		g.cfg.Log.Warn("undecodable rate budget; counting its window as full", "location", r.id)
		b = budget{grants: []grant{{at: micros(g.cfg.Now()), n: g.lim.max}}}
	}
	b.configure(g.lim)
	r.store(b, e.Revision(), g.cfg.Now())
	return nil
}

// store records b at rev as this process's copy. The caller holds r.kvmu.
// The copy is never changed in place (update changes a clone), so the view
// for estimates can share it.
func (r *resource) store(b budget, rev uint64, fresh time.Time) {
	r.cache, r.rev, r.read = b, rev, true
	r.mu.Lock()
	r.view, r.viewOK, r.fresh = b, true, fresh
	r.mu.Unlock()
}

// outdated reports whether a copy of a budget, last known current at
// fresh, must be read again before it refuses a permit: it holds another
// process's open permits, which may have closed since, and is older than
// staleAfter. Any other copy errs only on the generous side: a fresher
// budget holds more grants, and its own permits close through this
// process.
func (g *Governor) outdated(r *resource, b budget, fresh, now time.Time) bool {
	return now.Sub(fresh) > staleAfter && b.othersOpen(micros(now), r.proc, g.lim)
}

func sleep(d time.Duration) { <-after(d) }

func after(d time.Duration) <-chan time.Time { return time.After(d) }

// nap is the pump's sleep until the next permit of the waiters it could
// not serve (a variable: a test makes it never end by itself).
var nap = after

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

// previousReaders reports whether budgets are written for the previous
// release's replicas too (Config.PreviousReaders).
func (g *Governor) previousReaders() bool {
	return g.cfg.PreviousReaders != nil && g.cfg.PreviousReaders()
}
