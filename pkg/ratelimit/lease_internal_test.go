package ratelimit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// leaseLimits: 100 a window of a span of 1 s, 1,000 a day: a lease is at
// most 10 permits, and leaves at most 50 held.
var leaseLimits = limits{max: 100, daily: 1000, window: 900_000, span: 1_000_000, flight: 3_000_000}

// A lease is granted only while the budget is far from full.
func TestLeaseOnlyFarFromFull(t *testing.T) {
	day := utcDay(t0)
	until := t0 + 100_000
	tests := []struct {
		name string
		b    budget
		lane ghl.Lane
		n    int64
		want int64
	}{
		{name: "an empty budget leases what is asked", b: budget{day: day}, n: 5, want: 5},
		{name: "a lease is at most a tenth of the window", b: budget{day: day}, n: 50, want: 10},
		{name: "up to half of the window held", b: budget{day: day, used: 47, grants: []grant{{t0 - 500_000, 47}}}, n: 5, want: 3},
		{name: "nothing past half of the window", b: budget{day: day, used: 50, grants: []grant{{t0 - 500_000, 50}}}, n: 5},
		{name: "others' open permits count", b: budget{day: day, used: 48, open: []openGrant{{proc: 2, n: 48, latest: t0}}}, n: 5, want: 2},
		{name: "others' leases count toward the window and the day",
			b: budget{day: day, used: 890, open: []openGrant{{proc: 2, n: 20, latest: t0, leased: 20}}}, n: 5},
		{name: "nothing while paused", b: budget{day: day, pausedUntil: t0 + 1}, n: 5},
		{name: "nothing within a window's limit of the day's cap", b: budget{day: day, used: 901}, n: 5},
		{name: "the background leases far from its day's stop", b: budget{day: day, used: 700}, lane: ghl.LaneBackground, n: 5, want: 5},
		{name: "the background leases nothing near its day's stop (90%)", b: budget{day: day, used: 801}, lane: ghl.LaneBackground, n: 5},
		{name: "the background leases nothing under interactive demand",
			b: budget{day: day, wantedUntil: t0 + 500_000, backgroundAt: t0 - 2_000_000}, lane: ghl.LaneBackground, n: 5},
		{name: "the background's half leaves out the interactive reserve",
			b: budget{day: day, used: 40, grants: []grant{{t0 - 500_000, 40}}, interactiveAt: t0 - 500_000}, lane: ghl.LaneBackground, n: 10, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b.clone()
			b.settle(t0, leaseLimits)
			before := b.dayUsed(t0)
			held := b.heldAt(t0, leaseLimits)
			got := b.lease(t0, until, tt.n, 1, b.forLane(t0, leaseLimits, tt.lane))
			if got != tt.want {
				t.Fatalf("lease = %d, want %d", got, tt.want)
			}
			if d := b.heldAt(t0, leaseLimits) - held; d != got {
				t.Errorf("the window holds %d more after a lease of %d", d, got)
			}
			if d := b.dayUsed(t0) - before; d != got {
				t.Errorf("the day counts %d more after a lease of %d", d, got)
			}
			if got > 0 {
				o := b.open[len(b.open)-1]
				if o.proc != 1 || o.leased != got || o.latest != until {
					t.Errorf("entry %+v, want proc 1, leased %d, latest %d", o, got, until)
				}
			}
		})
	}
}

// A leased permit counts toward the window from the lease until its
// response plus the window, spent or not; the day counts it once whether
// the report is written once or twice, and a permit given back unspent
// does not count toward the day.
func TestLeaseAccounting(t *testing.T) {
	l := leaseLimits
	b := budget{day: utcDay(t0)}
	until := t0 + 100_000
	if got := b.lease(t0, until, 5, 1, l); got != 5 {
		t.Fatalf("lease = %d, want 5", got)
	}
	// Two spent and answered at t0+50 ms, one in flight, two unspent.
	now := t0 + 60_000
	rel := []int64{t0 + 50_000, t0 + 50_000}
	b.settle(now, l)
	b.release(1, 3, rel, now, l)
	b.report(1, 3, 2, until)
	if got, used := b.heldAt(now, l), b.dayUsed(now); got != 5 || used != 5 {
		t.Errorf("held %d, day %d after the report, want 5 and 5 (2 closed, 1 open, 2 leased)", got, used)
	}
	// A write repeated after an error that hid its success counts more,
	// never less.
	again := b.clone()
	again.release(1, 3, rel, now, l)
	again.report(1, 3, 2, until)
	if got, used := again.heldAt(now, l), again.dayUsed(now); got < 5 || used < 5 {
		t.Errorf("held %d, day %d after the report repeated, want at least 5 and 5", got, used)
	}
	// The lease ends: the two unspent go back; the one in flight stays.
	now = until + 1
	b.settle(now, l)
	b.release(1, 1, nil, now, l)
	b.report(1, 0, 0, until)
	if got, used := b.heldAt(now, l), b.dayUsed(now); got != 3 || used != 3 {
		t.Errorf("held %d, day %d after the lease ended, want 3 and 3", got, used)
	}
	// The closed ones leave the window a span after their response.
	now = t0 + 50_000 + l.span
	b.settle(now, l)
	if got := b.heldAt(now, l); got != 1 {
		t.Errorf("held %d a span after the responses, want 1 (in flight)", got)
	}
}

// A process that dies holding a lease: its leased permits are held as
// open ones until the lease's end plus the flight bound and the window,
// and then count toward the day as spent.
func TestDeadLeaseCountsAsSpent(t *testing.T) {
	l := leaseLimits
	b := budget{day: utcDay(t0)}
	until := t0 + 100_000
	b.lease(t0, until, 5, 1, l)
	now := until + l.flight + l.span - 1
	b.settle(now, l)
	if got := b.heldAt(now, l); got != 5 {
		t.Errorf("held %d just before the dead lease expires, want 5", got)
	}
	now++
	b.settle(now, l)
	if got, used := b.heldAt(now, l), b.dayUsed(now); got != 0 || used != 5 {
		t.Errorf("held %d, day %d after the dead lease expired; want 0 and 5", got, used)
	}
}

// A leased permit is handed out only before its lease's end, and only
// when no caller of its lane waits; at the end the unspent ones go back.
func TestSpendBeforeTheLeaseEnds(t *testing.T) {
	r := &resource{}
	r.lease[ghl.LaneInteractive], r.leaseUntil[ghl.LaneInteractive] = 2, t0+1000
	r.open = 2
	if r.spend(t0, ghl.LaneBackground) {
		t.Error("a background caller spent an interactive lease")
	}
	if !r.spend(t0+999, ghl.LaneInteractive) {
		t.Error("no leased permit before the lease's end")
	}
	if r.spend(t0+1000, ghl.LaneInteractive) {
		t.Error("a leased permit spent at the lease's end")
	}
	r.waiters = []*waiter{{lane: ghl.LaneInteractive}}
	r.leaseUntil[ghl.LaneInteractive] = t0 + 2000
	if r.spend(t0, ghl.LaneInteractive) {
		t.Error("a leased permit went past a waiting caller")
	}
	r.expire(t0+2000, false)
	if r.unspent() != 0 || r.open != 1 || r.returns != 1 || r.spent != 1 {
		t.Errorf("after the lease's end: unspent %d, open %d, returns %d, spent %d; want 0, 1, 1, 1", r.unspent(), r.open, r.returns, r.spent)
	}
}

// A budget holding leases is written as version 4; without, as version 3,
// which the previous release reads.
func TestLeaseEncoding(t *testing.T) {
	b := budget{grants: []grant{}, day: utcDay(t0), used: 3, open: []openGrant{{proc: 7, n: 4, latest: t0, leased: 3}, {proc: 8, n: 1, latest: t0}}}
	data := b.marshal(false)
	if data[0] != 4 {
		t.Errorf("version %d with leases, want 4", data[0])
	}
	got, err := unmarshalBudget(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(b, got, cmp.AllowUnexported(budget{}, grant{}, openGrant{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	b.open[0].leased = 0
	if v := b.marshal(false)[0]; v != 3 {
		t.Errorf("version %d without leases, want 3", v)
	}
	// More leased than open is corrupt.
	corrupt := budget{open: []openGrant{{proc: 7, n: 1, latest: t0, leased: 1}}}
	bad := corrupt.marshal(false)
	bad[len(bad)-1] = 2
	if _, err := unmarshalBudget(bad); err == nil {
		t.Error("a lease larger than its entry accepted")
	}
}

// A lease that ends unspent is not counted by its process's own estimates
// while the write that returns it is still to come: a caller of the
// process arriving meanwhile, with the window otherwise full, is told its
// permit is free (it waits for the pump's write, which returns the lease
// and takes its permit), not that the location is paced. Before the
// lease's end, and for the other processes, the leased permits are held.
func TestEndedLeaseNotCountedByItsProcess(t *testing.T) {
	l := testLimits
	until := t0 + 100_000
	// The process holds 9 permits in flight and leased 1, which makes the
	// window full (10).
	view := budget{day: utcDay(t0), used: 9, open: []openGrant{{proc: 1, n: 10, latest: until, leased: 1}}}
	r := &resource{proc: 1, view: view, viewOK: true, open: 10}
	r.lease[ghl.LaneInteractive], r.leaseUntil[ghl.LaneInteractive] = 1, until
	at := func(us int64) time.Time { return time.UnixMicro(us) }

	if got := r.estimate(at(until-1), 1, ghl.LaneBackground, l); got == 0 {
		t.Error("a background caller is told a permit is free while the interactive lease holds it")
	}
	if got := r.estimate(at(until), 1, ghl.LaneInteractive, l); got != 0 {
		t.Errorf("at the lease's end, before its return is written: next permit in %v, want free", got)
	}
	if got := r.estimate(at(until), 2, ghl.LaneInteractive, l); got == 0 {
		t.Error("the lease's end freed more than its one unspent permit")
	}
	r.expire(until, false)
	if got := r.estimate(at(until), 1, ghl.LaneInteractive, l); got != 0 {
		t.Errorf("after the pump gave the lease back, before its write: next permit in %v, want free", got)
	}
	b := r.own(until)
	if held, day := b.heldAt(until, l), b.dayUsed(until); held != 9 || day != 9 {
		t.Errorf("own copy holds %d, day %d; want 9 and 9", held, day)
	}
	// The copy itself, which other estimates and the next write start
	// from, is unchanged: only the budget's writes change it.
	if r.view.open[0].n != 10 || r.view.open[0].leased != 1 {
		t.Errorf("the copy was changed: %+v", r.view.open[0])
	}
	// A release not yet written still counts as an open permit.
	r.open--
	r.pending = append(r.pending, until)
	b = r.own(until)
	if held := b.heldAt(until, l); held != 9 {
		t.Errorf("own copy holds %d with a release not yet written, want 9", held)
	}
}

// The pump hands a lane's waiting callers the lane's leased permits,
// oldest first, before its lease's end: a lease never stands unspent
// while callers of its lane wait (and are paced for want of permits the
// budget counts as their process's).
func TestWaitersServedFromTheLease(t *testing.T) {
	r := &resource{open: 3}
	r.lease[ghl.LaneInteractive], r.leaseUntil[ghl.LaneInteractive] = 1, t0+1000
	r.lease[ghl.LaneBackground], r.leaseUntil[ghl.LaneBackground] = 2, t0+1000
	first, second := &waiter{ready: make(chan struct{})}, &waiter{ready: make(chan struct{})}
	r.waiters = []*waiter{first, second}
	if got := r.serveLeased(t0); got != 1 {
		t.Fatalf("served %d, want 1 (the interactive lease's one permit)", got)
	}
	select {
	case <-first.ready:
	default:
		t.Error("the oldest caller was not served")
	}
	if len(r.waiters) != 1 || r.waiters[0] != second {
		t.Error("the second caller is not the one left waiting")
	}
	if r.lease != [2]int64{0, 2} || r.spent != 1 || r.open != 3 {
		t.Errorf("lease %v, spent %d, open %d; want [0 2], 1, 3 (a background lease serves no interactive caller)", r.lease, r.spent, r.open)
	}
	// A lease that has ended serves nobody: its permits go back.
	r.lease[ghl.LaneInteractive] = 1
	if got := r.serveLeased(t0 + 1000); got != 0 {
		t.Errorf("served %d at the lease's end, want 0", got)
	}
}
