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

// BenchmarkUtilisation measures how full three processes with four
// callers each keep one location's window under a backlog, at HighLevel's
// real 100 requests per 10 s: the requests in a rolling window ÷ max,
// averaged over the run (the ceiling with the guard, a hundredth of the
// window, is 0.990), the fullest window and the 429s.
func BenchmarkUtilisation(b *testing.B) {
	const max, window, calls = 100, 10 * time.Second, 300
	b.Run(fmt.Sprintf("window=%d/%v", max, window), func(b *testing.B) {
		for b.Loop() {
			w := newWorld(b, max, window, 200_000)
			loc, tok := w.location()
			cfg := ratelimit.Config{Max: max, Window: window}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			var jobs atomic.Int64
			var wg sync.WaitGroup
			for range 3 {
				c := w.client(w.process(cfg), tok, ghl.Options{})
				for range 4 {
					wg.Go(func() {
						for jobs.Add(1) <= calls {
							if err := call(ctx, c, loc); err != nil {
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
		}
	})
}
