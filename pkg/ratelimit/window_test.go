package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// lateTransport holds each request for delay() before sending it: a
// process starved of CPU, or busy with anything between its permit and
// its socket.
type lateTransport struct {
	delay func() time.Duration
}

func (t lateTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if d := t.delay(); d > 0 {
		select {
		case <-time.After(d):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// Requests that leave seconds after their permits keep their permits
// until they are answered: the next window's requests wait for them, and
// HighLevel never sees more than its window allows. With leases (of 1
// permit here), the slow process's five callers arriving together on a
// loaded machine take the window's five permits, a lease among them: none
// is paced, whether the lease is handed to callers waiting behind a write
// or ends unspent before the last caller comes.
func TestLateRequestsKeepTheirPermits(t *testing.T) { forLeases(t, testLateRequestsKeepTheirPermits) }

func testLateRequestsKeepTheirPermits(t *testing.T, lease int) {
	const max, window, late = 5, 2 * time.Second, 2500 * time.Millisecond
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: max, Window: window, Lease: lease}
	slow, fast := w.process(cfg), w.process(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	slowClient := w.client(slow, tok, ghl.Options{MaxRetries: -1,
		HTTPClient: &http.Client{Transport: lateTransport{delay: func() time.Duration { return late }}}})
	var wg sync.WaitGroup
	for range max {
		wg.Go(func() {
			if _, err := slowClient.Accounts(ctx, loc); err != nil {
				t.Error(err)
			}
		})
	}
	// The slow process has its permits once the budget says so.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := fast.gov.Headroom(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if h.Used == max {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow process holds %d permits after 5s", h.Used)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fastClient := w.client(fast, tok, ghl.Options{MaxRetries: -1})
	for i := range max {
		if err := call(ctx, fastClient, loc); err != nil {
			t.Fatalf("fast call %d: %v", i, err)
		}
	}
	wg.Wait()

	reqs := w.requests(loc)
	if len(reqs) != 2*max {
		t.Errorf("%d requests logged, want %d", len(reqs), 2*max)
	}
	if n := count429(reqs); n > 0 {
		t.Errorf("%d requests answered 429", n)
	}
	windowCheck(t, reqs, max, window)
}

// Three processes with three callers each share one location; every
// request leaves a random time after its permit, up to far more than the
// guard. The simulator's log never holds more than the window allows, and
// no request is answered 429.
func TestRandomLatencyNeverOverfillsTheWindow(t *testing.T) {
	forLeases(t, testRandomLatencyNeverOverfillsTheWindow)
}

func testRandomLatencyNeverOverfillsTheWindow(t *testing.T, lease int) {
	const max, window, calls = 10, time.Second, 60
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	cfg := ratelimit.Config{Max: max, Window: window, Lease: lease}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(7, 11))
	delay := func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(4) == 0 {
			return time.Duration(rng.Int64N(int64(600 * time.Millisecond)))
		}
		return time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
	}
	var jobs atomic.Int64
	var wg sync.WaitGroup
	for range 3 {
		c := w.client(w.process(cfg), tok, ghl.Options{MaxRetries: -1, HTTPClient: &http.Client{Transport: lateTransport{delay: delay}}})
		for range 3 {
			wg.Go(func() {
				for jobs.Add(1) <= calls {
					if err := call(ctx, c, loc); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	reqs := w.requests(loc)
	if len(reqs) != calls {
		t.Errorf("%d requests logged, want %d", len(reqs), calls)
	}
	if n := count429(reqs); n > 0 {
		t.Errorf("%d requests answered 429", n)
	}
	fullest := windowCheck(t, reqs, max, window)
	t.Logf("%d requests, fullest window %d of %d", len(reqs), fullest, max)
}

// Every permit comes back, whatever its request met: after calls through
// resets, server errors and timeouts, the location's budget is whole again
// once the window has passed, long before the flight bound that would
// free a leaked permit.
func TestFailedRequestsReleaseTheirPermits(t *testing.T) {
	forLeases(t, testFailedRequestsReleaseTheirPermits)
}

func testFailedRequestsReleaseTheirPermits(t *testing.T, lease int) {
	const max, window = 10, time.Second
	w := newWorld(t, max, window, 200_000)
	loc, tok := w.location()
	w.admin(http.MethodPut, "/_sandbox/faults", map[string]any{"resetRate": 0.2, "rate500": 0.2, "timeoutRate": 0.1, "seed": 3}, nil)
	p := w.process(ratelimit.Config{Max: max, Window: window, Lease: lease})
	c := w.client(p, tok, ghl.Options{MaxRetries: 2, AttemptTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 25 {
		_ = call(ctx, c, loc) // failures are the point
	}
	deadline := time.Now().Add(window + 2*time.Second)
	for {
		h, err := p.gov.Headroom(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if h.Used == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d permits still held %v after the last call: some were never released", h.Used, window+2*time.Second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
