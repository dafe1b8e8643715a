package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

// Headrooms reads every location's budget in one pass and agrees with
// Headroom, location by location; a location that never called is absent
// and has the whole budget. The clocks run from noon (awayFromMidnight),
// so that the day's counts compared are of one day.
func TestHeadroomsReadsEveryBudget(t *testing.T) {
	clock := awayFromMidnight()
	w := newWorldAt(t, 100, 10*time.Second, 200_000, clock)
	cfg := ratelimit.Config{Max: 50, Window: 10 * time.Second, Daily: 1000, Now: clock}
	busy, watcher := w.process(cfg), w.process(cfg)
	ctx := context.Background()
	calls := map[string]int{}
	for _, n := range []int{3, 5} {
		loc, tok := w.location()
		c := w.client(busy, tok, ghl.Options{})
		for range n {
			if err := call(ctx, c, loc); err != nil {
				t.Fatal(err)
			}
		}
		calls[loc] = n
	}
	idle, _ := w.location()

	all, err := watcher.gov.Headrooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for loc, n := range calls {
		h, ok := all[loc]
		one, err := watcher.gov.Headroom(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || h.DailyUsed != int64(n) || h.Used != int64(n) || h != one {
			t.Errorf("%s after %d calls: Headrooms %+v (listed %v), Headroom %+v", loc, n, h, ok, one)
		}
	}
	if _, ok := all[idle]; ok {
		t.Errorf("a location that never called is listed: %+v", all[idle])
	}
	if u := watcher.gov.Unused(); u.Remaining() != 50 || u.DailyRemaining() != 1000 {
		t.Errorf("unused budget: %+v", u)
	}
}
