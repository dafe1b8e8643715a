package ratelimit

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// budget is one resource's shared state: the value of its key in the
// rate-budget bucket. Every process reads and writes it with compare-and-set
// only, so a change made from a stale copy never lands.
//
// Times are Unix microseconds of the wall clock of the process that wrote
// them, rounded up.
type budget struct {
	// grants are the closed permits that may still share a rolling window
	// with a request sent now, oldest first: permits whose request got its
	// response (or failed) at at, and permits HighLevel reported as used
	// by someone else.
	grants []grant
	// open are the permits handed out whose responses have not come back
	// yet, one entry per process, by process id.
	open []openGrant
	// pausedUntil is when a pause asked for by a 429 ends; 0 when none.
	pausedUntil int64
	// day is the day that used counts: days since the Unix epoch, each
	// starting resetOffset after midnight UTC (see dayOf).
	day int64
	// used is how many permits were handed out on day, plus what
	// HighLevel reported as used by others.
	used int64
	// max and daily are the limits HighLevel reported in its headers
	// (X-RateLimit-Max for the same window, X-RateLimit-Limit-Daily); 0
	// until a response said, and then the configured ones apply.
	max, daily int64
	// The lanes (lanes.go): interactiveAt is when the latest interactive
	// permit was handed out (0: never); wantedUntil is until when some
	// process has interactive callers waiting for a permit or deferred to
	// come back for one; backgroundAt is when the latest background
	// permit was handed out.
	interactiveAt, wantedUntil, backgroundAt int64
	// resetOffset is when, after midnight UTC (µs), HighLevel starts its
	// daily count again: 0 (midnight UTC) until learned from
	// X-RateLimit-Daily-Remaining, at a whole hour (see learn), or the
	// configured one (Config.DailyReset, see configure), which wins.
	resetOffset int64
}

// grant is n permits handed out at once. A grant of permits HighLevel
// reported as used by someone else is recorded the same way.
type grant struct {
	at int64
	n  int64
}

// openGrant is n permits that the process proc handed out, latest the
// last of them, whose responses have not arrived. The entry holds all n
// until latest+flight+span: by then every request it admitted has reached
// HighLevel or never will, and HighLevel has let it out of its window. A
// live process closes its permits long before, as their responses come
// back; the bound only frees the permits of a process that died.
//
// leased is the part of n that the process leased (lease.go) and has not
// reported spent: those count toward the day (dayUsed) through the entry
// until the process reports them spent (used) or returned.
type openGrant struct {
	proc   int64
	n      int64
	latest int64
	leased int64
}

// limits are a Config reduced to what the budget arithmetic needs.
type limits struct {
	max   int64
	daily int64
	// window is HighLevel's, in µs.
	window int64
	// span is how long a closed grant holds its permits after its
	// response: the window plus the guard, which covers the clocks'
	// disagreement. HighLevel counted the request from its arrival, which
	// came before the response.
	span int64
	// flight bounds, in µs, the time from a permit to its request's
	// arrival at HighLevel: the client's per-attempt timeout and a margin.
	flight int64
	// lane is what a permit of the background lane may not take (see
	// lanes.go); the zero value restricts nothing (the interactive lane).
	lane laneRule
	// reset is the configured daily reset's offset after midnight UTC,
	// in µs (Config.DailyReset), when resetSet.
	reset    int64
	resetSet bool
}

func micros(t time.Time) int64 {
	us := t.UnixMicro()
	if t.Nanosecond()%1000 != 0 {
		us++
	}
	return us
}

func utcDay(us int64) int64 { return us / (24 * 3600 * 1_000_000) }

func durationMicros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

const (
	dayMicros  = 24 * 3600 * 1_000_000
	hourMicros = 3600 * 1_000_000
)

// dayOf returns the day of b's daily count at now (µs): days since the
// Unix epoch, starting resetOffset after midnight UTC.
func (b *budget) dayOf(now int64) int64 { return (now - b.resetOffset) / dayMicros }

// resetAt returns when the daily count of now's day starts again: the
// next midnight UTC, or as much later as HighLevel's reset was learned to
// be (see learn). HighLevel does not say when its daily count resets (no
// header names it; its documentation names no time).
func (b *budget) resetAt(now int64) int64 { return (b.dayOf(now)+1)*dayMicros + b.resetOffset }

// configure gives b the configured daily reset (l.reset), when there is
// one, in place of the offset it was read with: the configured reset wins
// over a learned one. Every budget read from the bucket goes through it.
// A count kept under another offset is taken as the day's count when its
// day number is the same under the configured one, and as a past day's
// otherwise; HighLevel's X-RateLimit-Daily-Remaining corrects it upward
// (learn).
func (b *budget) configure(l limits) {
	if l.resetSet {
		b.resetOffset = l.reset
	}
}

// settle drops the grants no longer in the rolling window at now, and
// starts a new day's count when the day (dayOf) changed. The other methods
// give the same answers before and after: it only keeps the value small.
func (b *budget) settle(now int64, l limits) {
	b.configure(l)
	if n := len(b.grants) - len(b.live(now, l)); n > 0 {
		b.grants = slices.Delete(b.grants, 0, n)
	}
	b.used = b.usedOn(now)
	b.open = slices.DeleteFunc(b.open, func(o openGrant) bool {
		gone := o.n <= 0 || !o.holds(now, l)
		if gone && o.leased > 0 {
			// A process that died with leased permits: they count as spent.
			b.used += o.leased
		}
		return gone
	})
	b.day = b.dayOf(now)
	if b.pausedUntil <= now {
		b.pausedUntil = 0
	}
}

// live returns the grants still in the rolling window at now.
func (b *budget) live(now int64, l limits) []grant {
	i, _ := slices.BinarySearchFunc(b.grants, now-l.span, func(g grant, t int64) int {
		if g.at <= t {
			return -1
		}
		return 1
	})
	return b.grants[i:]
}

// holds reports whether o still holds its permits at now.
func (o openGrant) holds(now int64, l limits) bool { return o.latest+l.flight+l.span > now }

// heldAt returns how many permits the budget holds at now: the closed
// grants in the rolling window and the open permits.
func (b *budget) heldAt(now int64, l limits) int64 {
	n := held(b.live(now, l))
	for _, o := range b.open {
		if o.holds(now, l) {
			n += o.n
		}
	}
	return n
}

// othersOpen reports whether a process other than proc holds open permits
// at now: they may have closed since this copy was read, so a fresher
// budget may hold fewer permits.
func (b *budget) othersOpen(now, proc int64, l limits) bool {
	return slices.ContainsFunc(b.open, func(o openGrant) bool { return o.proc != proc && o.n > 0 && o.holds(now, l) })
}

func held(gs []grant) int64 {
	var n int64
	for _, g := range gs {
		n += g.n
	}
	return n
}

// usedOn returns the day's count at now: 0 on a new day (dayOf).
func (b *budget) usedOn(now int64) int64 {
	if b.dayOf(now) != b.day {
		return 0
	}
	return b.used
}

// dayUsed returns the day's count at now with the permits leased and not
// yet reported spent or returned, which count toward it too.
func (b *budget) dayUsed(now int64) int64 {
	n := b.usedOn(now)
	for _, o := range b.open {
		n += o.leased
	}
	return n
}

// limits returns l with the limits HighLevel reported in place of the
// configured ones, less what l.lane keeps from its lane.
func (b *budget) limits(l limits) limits {
	if b.max > 0 {
		l.max = b.max
	}
	if b.daily > 0 {
		l.daily = b.daily
	}
	return l.lane.apply(l)
}

// add records a grant of n permits at now, keeping grants ordered (the
// clocks of two processes may disagree by a little). A grant less than a
// thousandth of the span after the last one is merged into it, the merged
// grant taking the later time: it holds its permits a little longer, never
// shorter, and a window's grants stay a few hundred bytes.
func (b *budget) add(now, n int64, l limits) {
	i := len(b.grants)
	for i > 0 && b.grants[i-1].at > now {
		i--
	}
	if i > 0 && (b.grants[i-1].at == now || i == len(b.grants) && now-b.grants[i-1].at < max(l.span/1000, 1)) {
		b.grants[i-1].at = now
		b.grants[i-1].n += n
		return
	}
	b.grants = slices.Insert(b.grants, i, grant{at: now, n: n})
}

// take hands out up to want permits at now to the process proc, as open
// permits. It returns how many it handed out and, when none, how long
// until one may be free (an estimate: see wait). l.lane restricts a
// background lane's permits. The caller has settled b.
func (b *budget) take(now, want, proc int64, l limits) (int64, time.Duration) {
	if wait := b.wait(now, 1, l); wait > 0 {
		return 0, wait
	}
	trickle := l.lane.trickle > 0
	l = b.limits(l)
	n := min(want, l.max-b.heldAt(now, l), l.daily-b.dayUsed(now))
	if trickle {
		n = min(n, 1)
	}
	if n <= 0 {
		return 0, 0
	}
	i := slices.IndexFunc(b.open, func(o openGrant) bool { return o.proc == proc })
	if i < 0 {
		b.open = append(b.open, openGrant{proc: proc})
		i = len(b.open) - 1
	}
	b.open[i].n += n
	b.open[i].latest = max(b.open[i].latest, now)
	b.used += n
	return n, 0
}

// release records the closed permits of the process proc (each time in
// at is when a response, or a failure, ended one: a closed grant at that
// time; 0 is a permit never used) and sets its open count to open, the
// permits it has handed out and not released. Each process owns its entry
// and knows its count: setting it, rather than counting down, makes a
// write repeated after an error that hid its success harmless (its closed
// grants, counted twice, only err on the safe side). An entry that comes
// back after it expired, which a live process never lets happen, holds
// from now.
func (b *budget) release(proc, open int64, at []int64, now int64, l limits) {
	for _, t := range at {
		if t > 0 {
			b.add(t, 1, l)
		}
	}
	i := slices.IndexFunc(b.open, func(o openGrant) bool { return o.proc == proc })
	switch {
	case i >= 0 && open <= 0:
		b.open = slices.Delete(b.open, i, i+1)
	case i >= 0:
		b.open[i].n = open
	case open > 0:
		b.open = append(b.open, openGrant{proc: proc, n: open, latest: now})
	}
}

// wait returns how long from now until the k-th next permit is free (k at
// most a window's worth): 0 when k permits are free now. It assumes nobody
// else takes permits meanwhile, and that the open permits close now (most
// responses come back in milliseconds), so it is an estimate: a lower
// bound as long as the open ones close soon.
func (b *budget) wait(now, k int64, l limits) time.Duration {
	rule := l.lane
	l = b.limits(l)
	var d int64
	if b.pausedUntil > now {
		d = b.pausedUntil - now
	}
	if b.dayUsed(now)+k > l.daily {
		d = max(d, b.resetAt(now)-now)
	}
	if rule.trickle > 0 {
		d = max(d, rule.trickled(b.backgroundAt, k)-now)
	}
	live := b.live(now, l)
	var open int64
	for _, o := range b.open {
		if o.holds(now, l) {
			open += o.n
		}
	}
	need := held(live) + open + k - l.max
	for _, g := range live {
		if need <= 0 {
			break
		}
		need -= g.n
		d = max(d, g.at+l.span-now)
	}
	if need > 0 && open > 0 {
		// The open permits, closed now, free a span from now.
		need -= open
		d = max(d, l.span)
	}
	if need > 0 {
		// More than a window's worth: the rest frees a span later at best.
		d = max(d, l.span)
	}
	return durationMicros(d)
}

// eta returns how long from now until the k-th next permit is free, for
// any k, supposing that every permit is taken as soon as it is free: a
// window's worth later, the grants repeat.
func (b *budget) eta(now, k int64, l limits) time.Duration {
	m := max(b.limits(l).max, 1)
	periods := (k - 1) / m
	d := b.wait(now, k-periods*m, l) + durationMicros(periods*l.span)
	if l.lane.trickle > 0 {
		d = max(d, durationMicros(l.lane.trickled(b.backgroundAt, k)-now))
	}
	return d
}

// observation is what one response told about a resource's budget.
type observation struct {
	status     int
	rateLimit  ghl.RateLimit
	retryAfter time.Duration
}

// learn folds an observation made at now into b and reports whether it
// changed b; with apply false, it only reports whether it would. The
// caller has settled b when apply is true.
//
// HighLevel's headers name its limits: X-RateLimit-Max (when its interval
// is the configured window) and X-RateLimit-Limit-Daily replace the
// configured ones, for every process, until a response says otherwise.
//
// A 429 pauses the resource for its Retry-After, or for the window when
// HighLevel sent none. A response that reports fewer requests remaining in
// the window than b believes means that something outside this budget
// (a script or another deployment with the same credentials) used them: the
// difference is recorded as a grant at now, which is cautious, since those
// requests were made earlier and leave the window earlier. The daily count
// learns the same way from X-RateLimit-Daily-Remaining. What remains is
// never learned upward, b only ever gets more cautious about it, but for
// one thing: when HighLevel counts less than half of b's count of the day
// (and b counts at least resetMinUsed), HighLevel's day has started again.
// b then takes HighLevel's count and learns the reset time, the hour of
// now after midnight UTC, for every later day (resetOffset): the first
// response after a reset comes within the hour when the location is busy,
// and a later one only makes b reset later than HighLevel, which is safe.
// A configured reset (l.resetSet) is never learned over: b takes
// HighLevel's smaller count, and keeps its offset.
func (b *budget) learn(now int64, o observation, l limits, apply bool) bool {
	if o.status == http.StatusTooManyRequests {
		wait := o.retryAfter
		if wait <= 0 {
			wait = o.rateLimit.Interval
		}
		if wait <= 0 {
			wait = durationMicros(l.span)
		}
		until := now + wait.Microseconds()
		if until <= b.pausedUntil {
			return false
		}
		if apply {
			b.pausedUntil = until
		}
		// A 429's X-RateLimit-Remaining is 0 by definition: the pause says
		// all there is to say about the window.
		return true
	}
	rl := o.rateLimit
	if !rl.Present {
		return false
	}
	learned := *b
	changed := false
	if rl.Max > 0 && rl.Interval.Microseconds() == l.window && int64(rl.Max) != b.max {
		learned.max = int64(rl.Max)
		changed = true
	}
	if rl.DailyLimit > 0 && int64(rl.DailyLimit) != b.daily {
		learned.daily = int64(rl.DailyLimit)
		changed = true
	}
	ll := learned.limits(l)
	var missing int64
	if rl.Max > 0 {
		missing = ll.max - b.heldAt(now, l) - int64(rl.Remaining)
	}
	used := b.usedOn(now)
	reset := false
	if rl.DailyLimit > 0 {
		theirs := max(ll.daily-int64(rl.DailyRemaining), 0)
		reset = used >= resetMinUsed && 2*theirs < used
		switch {
		case reset:
			used = theirs
		case theirs > b.dayUsed(now):
			// The leased permits (dayUsed) may hold some of HighLevel's
			// count already; only a count beyond them is someone else's.
			used = theirs
		}
	}
	changed = changed || missing > 0 || used > b.usedOn(now) || reset
	if !changed || !apply {
		return changed
	}
	if reset && !l.resetSet {
		b.resetOffset = now % dayMicros / hourMicros * hourMicros
		b.day = b.dayOf(now)
	}
	b.max, b.daily, b.used = learned.max, learned.daily, used
	if missing > 0 {
		b.add(now, missing, l)
	}
	return true
}

// The encoding of a budget: a version byte, then unsigned varints:
// day, used, pausedUntil, max, daily, the number of grants, and per grant the
// difference of its time to the previous one's (the first one's to 0) and
// its permit count; then the number of open entries, and per entry its
// process id, permit count and latest time. A window's grants take a few
// bytes each.
//
// Version 1 had no open entries: its grants were counted from the permit,
// and are read as closed grants, which a window frees.
//
// Version 3 adds, after the open entries, the lanes' times (lanes.go):
// interactiveAt, wantedUntil and backgroundAt, and the daily reset's
// offset (learned, or Config.DailyReset's); versions 1 and 2 are read with
// none (a reset at midnight UTC, or the configured one: configure).
//
// Version 4 adds, after those, each open entry's leased permits, in the
// entries' order (lease.go). A budget is written as version 3 while no
// entry holds leased permits, so that processes of the previous release
// read it as long as nobody leases.
const (
	budgetVersionV4 = 4
	budgetVersion   = 3
	budgetVersionV2 = 2
	budgetVersionV1 = 1
)

var errBadBudget = errors.New("undecodable budget")

// marshal encodes b in version 3, or 4 when it holds leases; previous
// (Config.PreviousReaders) in version 2, which the previous release reads:
// without the lanes' times, the reset's hour and the leases.
func (b *budget) marshal(previous bool) []byte {
	out := make([]byte, 0, 16+6*len(b.grants))
	leases := !previous && slices.ContainsFunc(b.open, func(o openGrant) bool { return o.leased > 0 })
	switch {
	case previous:
		out = append(out, budgetVersionV2)
	case leases:
		out = append(out, budgetVersionV4)
	default:
		out = append(out, budgetVersion)
	}
	out = binary.AppendUvarint(out, uint64(b.day))
	out = binary.AppendUvarint(out, uint64(b.used))
	out = binary.AppendUvarint(out, uint64(b.pausedUntil))
	out = binary.AppendUvarint(out, uint64(b.max))
	out = binary.AppendUvarint(out, uint64(b.daily))
	out = binary.AppendUvarint(out, uint64(len(b.grants)))
	var prev int64
	for _, g := range b.grants {
		out = binary.AppendUvarint(out, uint64(g.at-prev))
		out = binary.AppendUvarint(out, uint64(g.n))
		prev = g.at
	}
	out = binary.AppendUvarint(out, uint64(len(b.open)))
	for _, o := range b.open {
		out = binary.AppendUvarint(out, uint64(o.proc))
		out = binary.AppendUvarint(out, uint64(o.n))
		out = binary.AppendUvarint(out, uint64(o.latest))
	}
	if previous {
		return out
	}
	out = binary.AppendUvarint(out, uint64(b.interactiveAt))
	out = binary.AppendUvarint(out, uint64(b.wantedUntil))
	out = binary.AppendUvarint(out, uint64(b.backgroundAt))
	out = binary.AppendUvarint(out, uint64(b.resetOffset))
	if leases {
		for _, o := range b.open {
			out = binary.AppendUvarint(out, uint64(o.leased))
		}
	}
	return out
}

func unmarshalBudget(data []byte) (budget, error) {
	if len(data) == 0 || data[0] < budgetVersionV1 || data[0] > budgetVersionV4 {
		return budget{}, errBadBudget
	}
	version := data[0]
	data = data[1:]
	next := func() (int64, bool) {
		v, n := binary.Uvarint(data)
		if n <= 0 || v > 1<<62 {
			return 0, false
		}
		data = data[n:]
		return int64(v), true
	}
	var b budget
	var count int64
	var ok [6]bool
	b.day, ok[0] = next()
	b.used, ok[1] = next()
	b.pausedUntil, ok[2] = next()
	b.max, ok[3] = next()
	b.daily, ok[4] = next()
	count, ok[5] = next()
	if ok != [6]bool{true, true, true, true, true, true} || count > int64(len(data)) {
		return budget{}, errBadBudget
	}
	b.grants = make([]grant, 0, count)
	var prev int64
	for range count {
		d, ok1 := next()
		n, ok2 := next()
		if !ok1 || !ok2 {
			return budget{}, errBadBudget
		}
		prev += d
		b.grants = append(b.grants, grant{at: prev, n: n})
	}
	if version >= budgetVersionV2 {
		count, ok := next()
		if !ok || count > int64(len(data)) {
			return budget{}, errBadBudget
		}
		for range count {
			proc, ok1 := next()
			n, ok2 := next()
			latest, ok3 := next()
			if !ok1 || !ok2 || !ok3 {
				return budget{}, errBadBudget
			}
			b.open = append(b.open, openGrant{proc: proc, n: n, latest: latest})
		}
	}
	if version >= budgetVersion {
		var ok [4]bool
		b.interactiveAt, ok[0] = next()
		b.wantedUntil, ok[1] = next()
		b.backgroundAt, ok[2] = next()
		b.resetOffset, ok[3] = next()
		if ok != [4]bool{true, true, true, true} || b.resetOffset >= dayMicros {
			return budget{}, errBadBudget
		}
	}
	if version >= budgetVersionV4 {
		for i := range b.open {
			leased, ok := next()
			if !ok || leased > b.open[i].n {
				return budget{}, errBadBudget
			}
			b.open[i].leased = leased
		}
	}
	if len(data) != 0 {
		return budget{}, errBadBudget
	}
	return b, nil
}

func (b budget) clone() budget {
	b.grants = slices.Clone(b.grants)
	b.open = slices.Clone(b.open)
	return b
}
