package ratelimit

import (
	"context"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Leases make permits cheap while a location's budget is far from full.
// Without them, every permit costs the process a compare-and-set of the
// budget to take it and another (folded with whatever else is due) to
// release it. With leasing on (Config.Lease), the write that serves a
// lane's callers also takes, when the budget is far from full, a lease of
// a few more permits of that lane for this process; the lane's next
// callers spend them with no round trip to NATS, until the lease ends
// (leaseFor: a tenth of the window, at most a second), and the releases
// of the lane's permits wait for the lease's end, or for the next write,
// to be written together, as long as the budget stays far from full.
//
// The accounting is that of an ordinary permit, taken at the lease's
// write: a leased permit is one of the process's open permits in the
// budget from that write on, spent or not, until its response comes (a
// closed grant at the response, as any other) or its lease ends unspent
// and the process gives it back. So the window bound's argument holds
// unchanged, with a leased permit's grant at its lease's write, which is
// before its request: every permit counts from (at the latest) its grant
// until its response plus the window. A leased permit is never spent
// after its lease's end, and the process's entry holds its permits until
// the lease's end plus FlightBound plus the window should it die.
//
// The process spends its lease before it asks the budget for more, and
// never counts against its own callers the permits its lease no longer
// holds; neither changes what the budget holds:
//   - Its waiting callers of a lane are handed the lane's leased permits,
//     oldest first, before the pump's next write (serveLeased): a caller
//     that arrives while others of its lane wait goes after them, and they
//     take the lease rather than be paced for permits the budget counts as
//     this process's already.
//   - When a lease ends unspent, the process's own estimates (own) no
//     longer count its permits, although its copy of the budget does until
//     the write that gives them back: a caller arriving meanwhile waits for
//     that write, which both gives them back (release sets the entry's
//     open count) and takes the caller's permit (takeLanes), on the same
//     revision of the budget, as any permit is taken. The estimates decide
//     only whether a caller waits or is told to come back; what the budget
//     holds at every revision is what its compare-and-set writes made it,
//     so the bound is untouched: a permit taken by that write counts from
//     that write, and the permits given back by it counted until it.
//
// Far from full means: after the lease, at most half of the window's
// limit (less the interactive reserve for the background lane) is held;
// the day has more than a window's limit left for the lane; no pause; and
// for the background lane, no interactive demand (a trickle). A lease is
// at most a tenth of the window's limit (at least one permit). Otherwise
// permits are taken one write at a time, as without leasing.
//
// The day: leased permits count toward the day's count from the lease
// (budget.dayUsed, through the entry's leased count) until the process
// reports them spent (the day's count) or returned (no longer counted);
// the permits of a process that dies with a lease count as spent. So the
// daily cap and the background's 90% hold with leases as without, and a
// lease given back unspent costs the day nothing.
const (
	// leaseDivisor: a lease is at most max/leaseDivisor permits.
	leaseDivisor = 10
	// leaseFull: a lease leaves at most max/leaseFull of the window held.
	leaseFull = 2
	// maxLeaseFor bounds how long a lease lasts.
	maxLeaseFor = time.Second
)

// leaseFor returns how long a lease lasts under c: a tenth of the window,
// at most maxLeaseFor.
func (c Config) leaseFor() time.Duration { return min(maxLeaseFor, c.Window/10) }

// lease hands out up to n permits to proc as a lease lasting until until
// (µs), when the budget is far from full at now, for the lane whose
// restrictions l carries (forLane), and returns how many. The caller has
// settled b.
func (b *budget) lease(now, until, n, proc int64, l limits) int64 {
	if n <= 0 || l.lane.trickle > 0 || b.wait(now, 1, l) > 0 {
		return 0
	}
	ll := b.limits(l)
	if ll.daily-b.dayUsed(now) < ll.max {
		return 0 // near the day's cap
	}
	n = min(n, max(ll.max/leaseDivisor, 1), ll.max/leaseFull-b.heldAt(now, l))
	if n <= 0 {
		return 0
	}
	o := b.entry(proc, now)
	o.n += n
	o.leased += n
	o.latest = max(o.latest, until)
	return n
}

// report records that proc spent spent leased permits since its last
// report (they join the day's count) and still holds unspent ones, leased
// until until (µs), and reports whether that changed b. Setting the
// entry's leased count, rather than counting it down, makes a write
// repeated after an error that hid its success harmless: its spent
// permits, counted twice, only err on the safe side. The caller has
// written proc's open count (release) first.
func (b *budget) report(proc, spent, unspent, until int64) bool {
	b.used += spent
	changed := spent > 0
	for i := range b.open {
		o := &b.open[i]
		if o.proc != proc {
			continue
		}
		leased := min(unspent, o.n)
		changed = changed || o.leased != leased
		o.leased = leased
		if leased > 0 {
			o.latest = max(o.latest, until)
		}
	}
	return changed
}

// entry returns proc's open entry, made at now when it has none.
func (b *budget) entry(proc, now int64) *openGrant {
	for i := range b.open {
		if b.open[i].proc == proc {
			return &b.open[i]
		}
	}
	b.open = append(b.open, openGrant{proc: proc, latest: now})
	return &b.open[len(b.open)-1]
}

// farFromFull reports whether r's copy of the budget holds at most the
// share of the window a lease may leave held, at now (µs). The caller
// holds r.mu.
func (g *Governor) farFromFull(r *resource, now int64) bool {
	if !r.viewOK {
		return false
	}
	b := r.own(now)
	return b.heldAt(now, g.lim) <= b.limits(g.lim).max/leaseFull
}

// own returns r's copy of the budget (the view) for the process's own
// estimates at now (µs), without the leased permits whose lease has ended
// unspent and whose return the budget has not been told of yet: given
// back by expire (back) or not yet. The copy counts them in this
// process's entry until the write that returns them; the process owns
// that entry and knows they are free. So a caller of this process
// arriving between a lease's end and that write is not paced for a permit
// the lease no longer holds: it waits, and the pump's next write both
// returns the lease (release sets the entry's count) and takes the
// caller's permit (takeLanes), from the same budget. Without leases, own
// is the copy. The caller holds r.mu.
func (r *resource) own(now int64) budget {
	b := r.view
	ended := r.back
	for ln := range r.lease {
		if now >= r.leaseUntil[ln] {
			ended += r.lease[ln]
		}
	}
	if ended <= 0 {
		return b
	}
	i := slices.IndexFunc(b.open, func(o openGrant) bool { return o.proc == r.proc })
	if i < 0 {
		return b
	}
	b.open = slices.Clone(b.open)
	o := &b.open[i]
	o.n = max(o.n-ended, 0)
	o.leased = max(min(o.leased-ended, o.n), 0)
	return b
}

// spend hands a caller of lane one of r's leased permits at now (µs), and
// reports whether it did: when r holds one whose lease has not ended and
// no caller of the lane waits (they go first). The caller holds r.mu.
func (r *resource) spend(now int64, lane ghl.Lane) bool {
	if r.lease[lane] <= 0 || now >= r.leaseUntil[lane] || r.inLane(lane) > 0 {
		return false
	}
	r.lease[lane]--
	r.spent++
	return true
}

// serveLeased hands r's leased permits whose lease has not ended at now
// (µs) to the waiting callers of their lane, oldest first, and returns how
// many it handed out. spend hands a caller a leased permit only when none
// of its lane waits, so that it goes after them; the pump serves those
// waiting from the lease here, before it asks the budget for more: a lease
// never stands unspent while callers of its lane wait, and are paced, for
// permits the budget counts as this process's already. The caller holds
// r.mu.
func (r *resource) serveLeased(now int64) int64 {
	var quota [2]int64
	for ln := range r.lease {
		if now < r.leaseUntil[ln] {
			quota[ln] = min(r.lease[ln], int64(r.inLane(ghl.Lane(ln))))
		}
	}
	if quota[0]+quota[1] == 0 {
		return 0
	}
	served := r.serve(quota[0], quota[1])
	for ln := range r.lease {
		r.lease[ln] -= quota[ln]
	}
	r.spent += served
	return served
}

// leased reports whether a caller of lane would be handed a leased permit
// at now (µs). The caller holds r.mu.
func (r *resource) leased(now int64, lane ghl.Lane) bool {
	return r.lease[lane] > 0 && now < r.leaseUntil[lane] && r.inLane(lane) == 0
}

// expire gives back r's unspent leased permits whose lease ended at now
// (µs), or all of them with all, for the pump to write. The caller holds
// r.mu.
func (r *resource) expire(now int64, all bool) {
	for ln := range r.lease {
		if all || now >= r.leaseUntil[ln] {
			if r.lease[ln] > 0 {
				r.open -= r.lease[ln]
				r.back += r.lease[ln]
				r.lease[ln] = 0
				r.returns++
			}
			if all {
				r.leaseUntil[ln] = 0
			}
		}
	}
}

// leaseEnd returns when r's latest lease ends (µs; 0 when it never had
// one). The caller holds r.mu.
func (r *resource) leaseEnd() int64 { return max(r.leaseUntil[0], r.leaseUntil[1]) }

// unspent returns r's unspent leased permits. The caller holds r.mu.
func (r *resource) unspent() int64 { return r.lease[0] + r.lease[1] }

// settled reports whether the budget knows all r's process knows: no
// release, spent leased permit or returned lease left to write. The caller
// holds r.mu.
func (r *resource) settled() bool {
	return len(r.pending) == 0 && r.spent == 0 && r.returns == r.returned
}

// Close gives back this process's leased permits (they are free for other
// processes at once, rather than at their lease's end) and writes the
// releases due, then returns; or returns ctx's error first. The Governor
// leases no more permits afterwards, and works on without: a process calls
// it on shutdown, once its handlers are done.
func (g *Governor) Close(ctx context.Context) error {
	g.closed.Store(true)
	g.mu.Lock()
	rs := make([]*resource, 0, len(g.resources))
	for _, r := range g.resources {
		rs = append(rs, r)
	}
	g.mu.Unlock()
	for _, r := range rs {
		r.mu.Lock()
		r.expire(0, true)
		if !r.settled() {
			g.startPump(r)
			r.wakePump()
		}
		r.mu.Unlock()
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for _, r := range rs {
		for {
			r.mu.Lock()
			done := r.settled() || !r.pumping
			r.mu.Unlock()
			if done {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	}
	return nil
}
