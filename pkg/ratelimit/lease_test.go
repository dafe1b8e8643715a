package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// Three processes leasing permits share one location with callers of both
// lanes that come and go (random pauses) so that the budget is far from
// full at times and full at others; every request leaves a random time
// after its permit. The simulator's log never holds more than the window
// allows, no request is answered 429, and every call is made.
func TestLeasesKeepTheWindow(t *testing.T) {
	const max, window, perCaller = 20, 2 * time.Second, 10
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: max, Window: window, Lease: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(5, 13))
	random := func(d time.Duration) time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return time.Duration(rng.Int64N(int64(d)))
	}
	delay := func() time.Duration {
		if random(4) == 0 {
			return random(600 * time.Millisecond)
		}
		return random(20 * time.Millisecond)
	}
	var procs []*process
	for range 3 {
		procs = append(procs, w.process(cfg))
	}
	rt := roundTrips(procs)
	var wg sync.WaitGroup
	for _, p := range procs {
		c := w.client(p, tok, ghl.Options{MaxRetries: -1, HTTPClient: &http.Client{Transport: lateTransport{delay: delay}}})
		for _, lane := range ghl.Lanes {
			lctx := ghl.WithLane(ctx, lane)
			wg.Go(func() {
				for range perCaller {
					if err := call(lctx, c, loc); err != nil {
						t.Error(err)
						return
					}
					time.Sleep(random(300 * time.Millisecond))
				}
			})
		}
	}
	wg.Wait()
	for _, p := range procs {
		if err := p.gov.Close(ctx); err != nil {
			t.Error(err)
		}
	}
	reqs := w.requests(loc)
	if want := 3 * len(ghl.Lanes) * perCaller; len(reqs) != want {
		t.Errorf("%d requests logged, want %d", len(reqs), want)
	}
	if n := count429(reqs); n > 0 {
		t.Errorf("%d requests answered 429", n)
	}
	fullest := windowCheck(t, reqs, max, window)
	t.Logf("%d requests, fullest window %d of %d, %.2f NATS round trips per call", len(reqs), fullest, max, float64(rt())/float64(len(reqs)))
}

// frozen is a clock that stands still: a lease taken on it never ends, and
// a permit never leaves its window.
func frozen() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

// take takes one interactive permit of loc from p's governor and releases
// it (a request answered at once), and returns the NATS round trips it
// cost.
func take(t *testing.T, ctx context.Context, p *process, loc string) uint64 {
	t.Helper()
	before := p.conn.Stats().OutMsgs
	release, err := p.gov.Acquire(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	n := p.conn.Stats().OutMsgs - before
	release(ghl.ResponseInfo{})
	return n
}

// Far from full, one write leases permits that the next calls take with no
// round trip; past half of the window, every permit costs one.
func TestNoLeaseNearAFullBudget(t *testing.T) {
	const max, window = 20, 10 * time.Second
	w := newWorld(t, max, window, 200_000)
	now := frozen()
	leasing := w.process(ratelimit.Config{Max: max, Window: window, Lease: 2, Now: now})
	other := w.process(ratelimit.Config{Max: max, Window: window, Now: now})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	free, _ := w.location()
	if n := take(t, ctx, leasing, free); n == 0 {
		t.Fatal("the first permit cost no round trip")
	}
	for i := range 2 {
		if n := take(t, ctx, leasing, free); n != 0 {
			t.Errorf("leased permit %d cost %d round trips, want 0", i+1, n)
		}
	}

	full, _ := w.location()
	for range max / 2 {
		take(t, ctx, other, full)
	}
	for i := range 4 {
		if n := take(t, ctx, leasing, full); n == 0 {
			t.Errorf("permit %d with half of the window held cost no round trip: leased", i+1)
		}
	}
	h, err := other.gov.Headroom(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	if h.Used != max/2+4 || h.DailyUsed != max/2+4 {
		t.Errorf("the budget holds %d, counts %d today; want %d for both (no lease)", h.Used, h.DailyUsed, max/2+4)
	}
}

// Close gives the leased permits back at once: another process can take
// them (the clock stands still, so the lease would never end otherwise).
func TestLeaseReturnedOnClose(t *testing.T) {
	const max, window = 20, 10 * time.Second
	w := newWorld(t, max, window, 200_000)
	loc, _ := w.location()
	now := frozen()
	leasing := w.process(ratelimit.Config{Max: max, Window: window, Lease: 2, Now: now})
	other := w.process(ratelimit.Config{Max: max, Window: window, Now: now})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	take(t, ctx, leasing, loc)
	h, err := other.gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	// The day's count shown is of the permits spent: the leased ones
	// count toward the day inside the budget until spent or given back.
	if h.Used != 3 || h.DailyUsed != 1 {
		t.Fatalf("with a lease of 2 the budget holds %d, shows %d today; want 3 and 1", h.Used, h.DailyUsed)
	}
	if err := leasing.gov.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err = other.gov.Headroom(ctx, loc); err != nil {
		t.Fatal(err)
	}
	if h.Used != 1 || h.DailyUsed != 1 {
		t.Errorf("after Close the budget holds %d, counts %d today; want 1 and 1", h.Used, h.DailyUsed)
	}
	for i := range max - 1 {
		if err := other.gov.Check(loc); err != nil {
			t.Fatalf("permit %d of the rest of the window: %v", i+1, err)
		}
		take(t, ctx, other, loc)
	}
	// The closed governor works on, without leases.
	fresh, _ := w.location()
	for i := range 2 {
		if n := take(t, ctx, leasing, fresh); n == 0 {
			t.Errorf("permit %d of a closed governor cost no round trip: leased", i+1)
		}
	}
}

// A lease ends within its lease time (a tenth of the window, at most a
// second): its unspent permits are written back and free for others, and
// the next call takes a permit from the budget again.
func TestLeaseExpires(t *testing.T) {
	const max, window = 20, 10 * time.Second
	// The clocks run from noon (awayFromMidnight): the day's count read
	// is of the day of the call.
	clock := awayFromMidnight()
	w := newWorldAt(t, max, window, 200_000, clock)
	loc, _ := w.location()
	leasing := w.process(ratelimit.Config{Max: max, Window: window, Lease: 2, Now: clock})
	other := w.process(ratelimit.Config{Max: max, Window: window, Now: clock})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := time.Now()
	take(t, ctx, leasing, loc)
	// Generous for a loaded machine, and short of the window: the one
	// permit used holds the window for 10 s, and a lease never given back
	// would hold its permits for the flight bound and the window.
	deadline := start.Add(window / 2)
	for {
		h, err := other.gov.Headroom(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if h.Used == 1 && h.DailyUsed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the budget holds %d permits, counts %d today %v after a call that leased 2: the lease was not given back",
				h.Used, h.DailyUsed, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the lease was given back %v after it was taken", time.Since(start))
	if n := take(t, ctx, leasing, loc); n == 0 {
		t.Error("a permit after the lease's end cost no round trip: an ended lease was spent")
	}
}
