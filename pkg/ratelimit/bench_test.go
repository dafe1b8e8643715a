package ratelimit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// BenchmarkUtilisation measures how full governors with four callers
// each keep one location's window under a backlog, at HighLevel's real
// 100 requests per 10 s: the requests in a rolling window ÷ max, averaged
// over the run (the ceiling with the guard, a hundredth of the window, is
// 0.990), the fullest window, the 429s and the NATS round trips per call.
// The first case is three governors without leasing; the others are one
// or three governors leasing 5 permits per lane (Config.Lease).
func BenchmarkUtilisation(b *testing.B) {
	const max, window, calls = 100, 10 * time.Second, 300
	for _, c := range []struct {
		name         string
		govs, leases int
	}{
		{fmt.Sprintf("window=%d/%v", max, window), 3, 0},
		{fmt.Sprintf("window=%d/%v,governors=1,lease=0", max, window), 1, 0},
		{fmt.Sprintf("window=%d/%v,governors=1,lease=5", max, window), 1, 5},
		{fmt.Sprintf("window=%d/%v,governors=3,lease=5", max, window), 3, 5},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				w := newWorld(b, max, window, 200_000)
				loc, tok := w.location()
				cfg := ratelimit.Config{Max: max, Window: window, Lease: c.leases}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				var jobs atomic.Int64
				var wg sync.WaitGroup
				var procs []*process
				for range c.govs {
					procs = append(procs, w.process(cfg))
				}
				rt := roundTrips(procs)
				for _, p := range procs {
					cl := w.client(p, tok, ghl.Options{})
					for range 4 {
						wg.Go(func() {
							for jobs.Add(1) <= calls {
								if err := call(ctx, cl, loc); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
				}
				wg.Wait()
				cancel()
				reqs := w.requests(loc)
				fullest, _ := fleettest.FullestWindow(fleettest.APITimes(reqs), window)
				b.ReportMetric(fleettest.Utilisation(fleettest.APITimes(reqs), max, window), "utilisation")
				b.ReportMetric(float64(fullest), "fullest")
				b.ReportMetric(float64(count429(reqs)), "429s")
				b.ReportMetric(float64(rt())/float64(len(reqs)), "rt/call")
			}
		})
	}
}

// BenchmarkRoundTrips measures the NATS round trips (requests on the
// governors' connections: compare-and-sets and reads of the budget) per
// HighLevel call, with and without leasing (Config.Lease), at HighLevel's
// 100 requests per 10 s:
//
//   - far: a budget far from full: each governor has one interactive and
//     one background caller making calls one after the other (40 calls
//     with one governor, 30 with three: under half of the window);
//   - backlog: three governors with four callers per lane each make 312
//     calls at 100 per 2 s, the window full throughout.
//
// It fails on a window over the limit or a 429.
func BenchmarkRoundTrips(b *testing.B) {
	for _, c := range []struct {
		load                  string
		govs, callers, perCal int
		window                time.Duration
	}{
		{"far", 1, 1, 20, 10 * time.Second},
		{"far", 3, 1, 5, 10 * time.Second},
		{"backlog", 3, 4, 13, 2 * time.Second},
	} {
		for _, lease := range []int{0, 5} {
			b.Run(fmt.Sprintf("load=%s,governors=%d,lease=%d", c.load, c.govs, lease), func(b *testing.B) {
				const max = 100
				var rts, calls int64
				for b.Loop() {
					w := newWorld(b, max, c.window, 200_000)
					loc, tok := w.location()
					cfg := ratelimit.Config{Max: max, Window: c.window, Lease: lease}
					ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
					var wg sync.WaitGroup
					var procs []*process
					for range c.govs {
						procs = append(procs, w.process(cfg))
					}
					rt := roundTrips(procs)
					for _, p := range procs {
						cl := w.client(p, tok, ghl.Options{})
						for _, lane := range ghl.Lanes {
							lctx := ghl.WithLane(ctx, lane)
							for range c.callers {
								wg.Go(func() {
									for range c.perCal {
										if err := call(lctx, cl, loc); err != nil {
											b.Error(err)
											return
										}
									}
								})
							}
						}
					}
					wg.Wait()
					for _, p := range procs {
						if err := p.gov.Close(ctx); err != nil {
							b.Error(err)
						}
					}
					cancel()
					reqs := w.requests(loc)
					windowCheck(b, reqs, max, c.window)
					if n := count429(reqs); n > 0 {
						b.Errorf("%d 429s", n)
					}
					rts += rt()
					calls += int64(len(reqs))
				}
				b.ReportMetric(float64(rts)/float64(calls), "rt/call")
			})
		}
	}
}

// roundTrips returns a function that returns how many requests the
// processes' NATS connections sent since roundTrips was called: each
// read or compare-and-set of a budget is one request and its reply.
func roundTrips(procs []*process) func() int64 {
	start := make([]uint64, len(procs))
	for i, p := range procs {
		start[i] = p.conn.Stats().OutMsgs
	}
	return func() int64 {
		var n int64
		for i, p := range procs {
			n += int64(p.conn.Stats().OutMsgs - start[i])
		}
		return n
	}
}
