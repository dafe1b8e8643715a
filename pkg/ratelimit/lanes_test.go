package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// Under a backlog of both lanes on one location, queued at once by two
// processes each running callers of both lanes (as handlers deferring
// their messages would), the interactive calls are done first: on average
// more than a window before the background ones, which all get done too.
// The window holds throughout. Without lanes, both lanes would finish
// alike.
func TestInteractiveGoesFirstUnderABacklog(t *testing.T) {
	forLeases(t, testInteractiveGoesFirstUnderABacklog)
}

func testInteractiveGoesFirstUnderABacklog(t *testing.T, lease int) {
	const max, window, perLane = 10, time.Second, 15
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var done [2][]time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range 2 {
		c := w.client(w.process(ratelimit.Config{Max: max, Window: window, MaxWait: 200 * time.Millisecond, Lease: lease}), tok, ghl.Options{})
		for _, lane := range ghl.Lanes {
			lctx := ghl.WithLane(ctx, lane)
			for range perLane {
				wg.Go(func() {
					if err := call(lctx, c, loc); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					done[lane] = append(done[lane], time.Since(start))
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	mean := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		return sum / time.Duration(len(ds))
	}
	fg, bg := mean(done[ghl.LaneInteractive]), mean(done[ghl.LaneBackground])
	t.Logf("interactive calls done after %v on average, background after %v", fg, bg)
	if len(done[ghl.LaneBackground]) != 2*perLane || len(done[ghl.LaneInteractive]) != 2*perLane {
		t.Fatalf("%d interactive and %d background calls done, want %d each",
			len(done[ghl.LaneInteractive]), len(done[ghl.LaneBackground]), 2*perLane)
	}
	if fg+window > bg {
		t.Errorf("interactive calls done after %v on average, background after %v: want interactive first, by a window", fg, bg)
	}
	reqs := w.requests(loc)
	windowCheck(t, reqs, max, window)
	if n := count429(reqs); n > 0 {
		t.Errorf("%d 429s", n)
	}
}

// Interactive and background callers of one location in different
// processes, as contactsync and the fetcher or the stats worker are: while
// the interactive callers want more than the window holds, they get most
// of it, and the background still progresses at its bounded share (about
// a tenth of the window). Without lanes, the background's larger backlog
// would take most of the window. The window holds throughout.
func TestBackgroundProgressesUnderInteractiveLoad(t *testing.T) {
	forLeases(t, testBackgroundProgressesUnderInteractiveLoad)
}

func testBackgroundProgressesUnderInteractiveLoad(t *testing.T, lease int) {
	const max, window, load = 10, time.Second, 8 * time.Second
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: max, Window: window, MaxWait: 200 * time.Millisecond, Lease: lease}
	fg := w.client(w.process(cfg), tok, ghl.Options{})
	bg := w.client(w.process(cfg), tok, ghl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), load)
	defer cancel()
	var calls [2]atomic.Int64
	var wg sync.WaitGroup
	for range 12 { // interactive: more than the window holds, all along
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := call(ghl.WithLane(ctx, ghl.LaneInteractive), fg, loc); err == nil {
					calls[ghl.LaneInteractive].Add(1)
				}
			}
		})
	}
	for range 60 { // background: a backlog of its own
		wg.Go(func() {
			if err := call(ghl.WithLane(ctx, ghl.LaneBackground), bg, loc); err == nil {
				calls[ghl.LaneBackground].Add(1)
			}
		})
	}
	wg.Wait()
	nI, nB := calls[ghl.LaneInteractive].Load(), calls[ghl.LaneBackground].Load()
	t.Logf("in %v: %d interactive calls, %d background calls", load, nI, nB)
	if nB < 3 {
		t.Errorf("%d background calls under interactive load, want at least 3: the background starves", nB)
	}
	if share := float64(nI) / float64(nI+nB); share < 0.75 {
		t.Errorf("interactive share %.2f (%d of %d), want at least 0.75", share, nI, nI+nB)
	}
	reqs := w.requests(loc)
	windowCheck(t, reqs, max, window)
	if n := count429(reqs); n > 0 {
		t.Errorf("%d 429s", n)
	}
}

// settableClock is a clock that runs from a start and can jump.
type settableClock struct {
	start  time.Time
	real   time.Time
	offset atomic.Int64
}

func newClock(start time.Time) *settableClock { return &settableClock{start: start, real: time.Now()} }

func (c *settableClock) Now() time.Time {
	return c.start.Add(time.Since(c.real) + time.Duration(c.offset.Load()))
}

func (c *settableClock) Jump(d time.Duration) { c.offset.Add(int64(d)) }

// A location driven to its daily cap (the simulator's daily limit at 50):
// background calls stop at 45 (90%) and are paced until the reset,
// interactive ones go on to 50 and are then paced until the reset too (or
// MaxDefer, when shorter), with no 429; after the reset both lanes call
// again. The headroom tells the reset time.
func TestDailyCapDefersToTheReset(t *testing.T) {
	const daily = 50
	clock := newClock(time.Date(2026, time.March, 11, 20, 0, 0, 0, time.UTC))
	w := newWorldAt(t, 100, time.Second, daily, clock.Now)
	loc, tok := w.location()
	p := w.process(ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now, MaxDefer: 24 * time.Hour})
	c := w.client(p, tok, ghl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bg, fg := ghl.WithLane(ctx, ghl.LaneBackground), ghl.WithLane(ctx, ghl.LaneInteractive)
	reset := time.Date(2026, time.March, 12, 0, 0, 0, 0, time.UTC)

	// until is how many calls of lane are made before it is paced, and the pace.
	until := func(lctx context.Context) (int64, *ratelimit.PacedError) {
		for n := int64(0); ; n++ {
			_, err := c.Accounts(lctx, loc)
			var paced *ratelimit.PacedError
			if errors.As(err, &paced) {
				return n, paced
			}
			if err != nil {
				t.Fatal(err)
			}
			if n > daily {
				t.Fatal("no daily cap")
			}
		}
	}
	if n, paced := until(bg); n != ratelimit.BackgroundDaily(daily) || paced.Wait < reset.Sub(clock.Now())-time.Minute {
		t.Errorf("background made %d calls, then paced for %v; want %d, then until the reset (%v)",
			n, paced.Wait, ratelimit.BackgroundDaily(daily), reset.Sub(clock.Now()))
	}
	if n, paced := until(fg); n != daily-ratelimit.BackgroundDaily(daily) || paced.Wait < reset.Sub(clock.Now())-time.Minute {
		t.Errorf("interactive made %d more calls, then paced for %v; want %d, then until the reset",
			n, paced.Wait, daily-ratelimit.BackgroundDaily(daily))
	}
	if err := p.gov.CheckLane(loc, ghl.LaneBackground); !errors.Is(err, ratelimit.ErrPaced) {
		t.Errorf("CheckLane(background) at the cap = %v, want paced", err)
	}
	hr, err := p.gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if hr.DailyUsed != daily || !hr.DailyResetAt.Equal(reset) {
		t.Errorf("headroom: %d used, reset at %v; want %d, %v", hr.DailyUsed, hr.DailyResetAt, daily, reset)
	}
	if n := count429(w.requests(loc)); n > 0 {
		t.Errorf("%d 429s", n)
	}
	// By default a held caller is told to look again within MaxDefer.
	capped := w.process(ratelimit.Config{Max: 100, Window: time.Second, Daily: daily, Now: clock.Now})
	var paced *ratelimit.PacedError
	if _, err := w.client(capped, tok, ghl.Options{}).Accounts(fg, loc); !errors.As(err, &paced) || paced.Wait != ratelimit.DefaultMaxDefer {
		t.Errorf("a call at the cap with the default MaxDefer: %v, want paced for %v", err, ratelimit.DefaultMaxDefer)
	}

	clock.Jump(reset.Sub(clock.Now()) + time.Second)
	for _, lctx := range []context.Context{bg, fg} {
		if err := call(lctx, c, loc); err != nil {
			t.Errorf("a call after the reset: %v", err)
		}
	}
}
