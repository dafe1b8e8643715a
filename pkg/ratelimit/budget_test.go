package ratelimit

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// testLimits: 10 per window of 900ms, a window plus guard of 1s (in µs),
// 100 a day, a flight bound of 3s.
var testLimits = limits{max: 10, daily: 100, window: 900_000, span: 1_000_000, flight: 3_000_000}

// open is the open entry of the process of TestTake, proc 1.
func open1(n, latest int64) []openGrant { return []openGrant{{proc: 1, n: n, latest: latest}} }

// t0 is a time well inside a UTC day, in µs.
const t0 = int64(20_000)*24*3600*1_000_000 + 12*3600*1_000_000

func TestTake(t *testing.T) {
	tests := []struct {
		name     string
		b        budget
		now      int64
		want     int64
		wantGot  int64
		wantWait time.Duration
		after    budget
	}{
		{
			name: "empty budget gives all it is asked", now: t0, want: 4, wantGot: 4,
			after: budget{open: open1(4, t0), day: utcDay(t0), used: 4},
		},
		{
			name: "never more than the window holds",
			b:    budget{grants: []grant{{t0 - 500_000, 7}}, day: utcDay(t0), used: 7}, now: t0, want: 5, wantGot: 3,
			after: budget{grants: []grant{{t0 - 500_000, 7}}, open: open1(3, t0), day: utcDay(t0), used: 10},
		},
		{
			name: "full window: wait for the oldest grant to leave it",
			b:    budget{grants: []grant{{t0 - 800_000, 6}, {t0 - 100_000, 4}}, day: utcDay(t0), used: 10}, now: t0, want: 1,
			wantWait: 200 * time.Millisecond,
			after:    budget{grants: []grant{{t0 - 800_000, 6}, {t0 - 100_000, 4}}, day: utcDay(t0), used: 10},
		},
		{
			name: "a grant leaves the window exactly one span later",
			b:    budget{grants: []grant{{t0 - 1_000_000, 10}}, day: utcDay(t0), used: 10}, now: t0, want: 2, wantGot: 2,
			after: budget{grants: []grant{}, open: open1(2, t0), day: utcDay(t0), used: 12},
		},
		{
			name: "HighLevel's reported max replaces the configured one",
			b:    budget{grants: []grant{{t0 - 500_000, 10}}, day: utcDay(t0), used: 10, max: 15}, now: t0, want: 8, wantGot: 5,
			after: budget{grants: []grant{{t0 - 500_000, 10}}, open: open1(5, t0), day: utcDay(t0), used: 15, max: 15},
		},
		{
			name: "paused", b: budget{pausedUntil: t0 + 1_500_000, day: utcDay(t0)}, now: t0, want: 1,
			wantWait: 1500 * time.Millisecond,
			after:    budget{pausedUntil: t0 + 1_500_000, day: utcDay(t0)},
		},
		{
			name: "a pause ends", b: budget{pausedUntil: t0, day: utcDay(t0)}, now: t0, want: 1, wantGot: 1,
			after: budget{open: open1(1, t0), day: utcDay(t0), used: 1},
		},
		{
			name: "the day's budget caps the window's",
			b:    budget{day: utcDay(t0), used: 98}, now: t0, want: 5, wantGot: 2,
			after: budget{open: open1(2, t0), day: utcDay(t0), used: 100},
		},
		{
			name: "day spent: wait for the next UTC day",
			b:    budget{day: utcDay(t0), used: 100}, now: t0, want: 1, wantWait: 12 * time.Hour,
			after: budget{day: utcDay(t0), used: 100},
		},
		{
			name: "a new day starts a new count",
			b:    budget{day: utcDay(t0) - 1, used: 100}, now: t0, want: 1, wantGot: 1,
			after: budget{open: open1(1, t0), day: utcDay(t0), used: 1},
		},
		{
			name: "open permits of any process hold the window",
			b:    budget{grants: []grant{{t0 - 500_000, 4}}, open: []openGrant{{proc: 2, n: 3, latest: t0 - 2_000_000}, {proc: 1, n: 2, latest: t0 - 100}}, day: utcDay(t0), used: 9},
			now:  t0, want: 5, wantGot: 1,
			after: budget{grants: []grant{{t0 - 500_000, 4}}, open: []openGrant{{proc: 2, n: 3, latest: t0 - 2_000_000}, {proc: 1, n: 3, latest: t0}}, day: utcDay(t0), used: 10},
		},
		{
			name: "a full window of open permits: estimated to free a span after they close",
			b:    budget{open: []openGrant{{proc: 2, n: 10, latest: t0 - 3_500_000}}, day: utcDay(t0), used: 10},
			now:  t0, want: 1, wantWait: time.Second,
			after: budget{open: []openGrant{{proc: 2, n: 10, latest: t0 - 3_500_000}}, day: utcDay(t0), used: 10},
		},
		{
			name: "the open permits of a dead process free after the flight bound and the span",
			b:    budget{open: []openGrant{{proc: 2, n: 10, latest: t0 - 4_000_000}}, day: utcDay(t0), used: 10},
			now:  t0, want: 3, wantGot: 3,
			after: budget{open: open1(3, t0), day: utcDay(t0), used: 13},
		},
		{
			name: "more used than the window holds (learned): wait until enough leave",
			b:    budget{grants: []grant{{t0 - 900_000, 2}, {t0 - 300_000, 11}}, day: utcDay(t0), used: 13}, now: t0, want: 1,
			wantWait: 700 * time.Millisecond,
			after:    budget{grants: []grant{{t0 - 900_000, 2}, {t0 - 300_000, 11}}, day: utcDay(t0), used: 13},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b.clone()
			b.settle(tt.now, testLimits)
			got, wait := b.take(tt.now, tt.want, 1, testLimits)
			if got != tt.wantGot || wait != tt.wantWait {
				t.Errorf("take = %d, %v; want %d, %v", got, wait, tt.wantGot, tt.wantWait)
			}
			if diff := cmp.Diff(tt.after, b, cmp.AllowUnexported(budget{}, grant{}, openGrant{})); diff != "" {
				t.Errorf("budget after take (-want +got):\n%s", diff)
			}
		})
	}
}

// However the grants fall, no rolling window ever holds more than max,
// when every request is answered at once.
func TestTakeNeverOverfillsAWindow(t *testing.T) {
	l := testLimits
	l.daily = 1 << 40
	var b budget
	var granted []int64 // one entry per permit
	now := t0
	for step := range 5000 {
		now += int64(1 + (step*7919)%97_000) // irregular steps, under a tenth of the span
		b.settle(now, l)
		got, _ := b.take(now, int64(1+step%4), 1, l)
		for range got {
			granted = append(granted, now)
		}
		b.release(1, 0, slices.Repeat([]int64{now}, int(got)), now, l)
	}
	if at, n := fullest(granted, l.span); n > int(l.max) {
		t.Fatalf("%d permits within one span from %d", n, at)
	}
	// Nor does it starve: asked often, it hands out nearly a window's worth
	// per span.
	if allowed := (now - t0) / l.span * l.max; int64(len(granted)) < allowed*9/10 {
		t.Errorf("%d permits over the run, where %d were allowed", len(granted), allowed)
	}
}

// Four processes take permits from one budget; each request leaves at a
// random time after its permit (mostly at once, sometimes seconds later,
// up to the flight bound, as a starved process's would), is answered at
// random later, and its release reaches the budget later still. However
// late the requests leave, HighLevel never sees more than max arrivals in
// one window: a permit holds from its grant until its response and a span
// after.
func TestLateRequestsNeverOverfillAWindow(t *testing.T) {
	l := testLimits
	l.daily = 1 << 40
	rng := rand.New(rand.NewPCG(1, 2))
	type flight struct{ proc, answered, written int64 }
	var b budget
	var inFlight []flight
	var arrivals []int64
	open := map[int64]int64{} // per process, the permits not released in a write
	now := t0
	for range 30_000 {
		now += rng.Int64N(20_000)
		// The releases written by now, each process's in one write.
		rel := map[int64][]int64{}
		inFlight = slices.DeleteFunc(inFlight, func(f flight) bool {
			if f.written > now {
				return false
			}
			rel[f.proc] = append(rel[f.proc], f.answered)
			return true
		})
		for proc, at := range rel {
			open[proc] -= int64(len(at))
			b.release(proc, open[proc], at, now, l)
		}
		b.settle(now, l)
		proc := 1 + rng.Int64N(4)
		got, _ := b.take(now, 1+rng.Int64N(3), proc, l)
		open[proc] += got
		for range got {
			leaves := now + rng.Int64N(5_000)
			if rng.IntN(10) == 0 {
				leaves = now + rng.Int64N(l.flight)
			}
			answered := leaves + rng.Int64N(300_000)
			arrivals = append(arrivals, leaves)
			inFlight = append(inFlight, flight{proc: proc, answered: answered, written: answered + rng.Int64N(50_000)})
		}
	}
	slices.Sort(arrivals)
	if at, n := fullest(arrivals, l.window); n > int(l.max) {
		t.Fatalf("%d requests arrived within one window from %d", n, at)
	}
	if len(arrivals) < 1000 {
		t.Errorf("only %d permits handed out", len(arrivals))
	}
}

// A request answered long after its permit keeps its permit until the
// answer and a span after; a process that dies with permits open frees
// them the flight bound and a span after its latest one.
func TestReleaseClosesAtTheResponse(t *testing.T) {
	l := testLimits
	var b budget
	if got, _ := b.take(t0, 10, 1, l); got != 10 {
		t.Fatalf("took %d of an empty budget", got)
	}
	// At one span after the grants, nothing has come back: still full.
	if got, _ := b.take(t0+l.span, 1, 2, l); got != 0 {
		t.Fatal("a permit granted while the window's permits are in flight")
	}
	// The responses came 1.5s after the permits: the window is full until
	// a span after them.
	b.release(1, 0, slices.Repeat([]int64{t0 + 1_500_000}, 10), t0+1_500_000, l)
	for _, tt := range []struct {
		now  int64
		want int64
	}{{t0 + 2_400_000, 0}, {t0 + 2_500_000, 10}} {
		c := b.clone()
		c.settle(tt.now, l)
		if got, _ := c.take(tt.now, 10, 2, l); got != tt.want {
			t.Errorf("at %dms after the permits: %d granted, want %d", (tt.now-t0)/1000, got, tt.want)
		}
	}
	if len(b.open) != 0 {
		t.Errorf("open entries left after every permit closed: %+v", b.open)
	}

	// A process dies with 4 permits open.
	b = budget{}
	b.take(t0, 4, 1, l)
	dead := t0 + l.flight + l.span
	for _, tt := range []struct {
		now  int64
		want int64
	}{{dead - 1, 6}, {dead, 10}} {
		c := b.clone()
		c.settle(tt.now, l)
		if got, _ := c.take(tt.now, 10, 2, l); got != tt.want {
			t.Errorf("at %dms after the dead process's permits: %d granted, want %d", (tt.now-t0)/1000, got, tt.want)
		}
	}
	// A permit never used is dropped; a release after the entry expired
	// still records its closed grant; the same release written twice (a
	// write that landed though it reported an error) leaves the open count
	// as it should be.
	b = budget{}
	b.take(t0, 3, 1, l)
	b.release(1, 2, []int64{0}, t0, l)
	if b.heldAt(t0, l) != 2 || len(b.grants) != 0 {
		t.Errorf("after an unused permit's release: %+v", b)
	}
	b.release(1, 1, []int64{t0 + 10}, t0+10, l)
	b.release(1, 1, []int64{t0 + 10}, t0+10, l)
	if o := b.open; len(o) != 1 || o[0].n != 1 {
		t.Errorf("after one release written twice: open %+v, want 1 permit", o)
	}
	b.settle(dead, l)
	b.release(1, 0, []int64{dead}, dead, l)
	if b.heldAt(dead, l) != 1 || len(b.open) != 0 {
		t.Errorf("a release after its entry expired: %+v", b)
	}
}

// fullest returns the start and count of the fullest interval of length d
// among sorted times.
func fullest(times []int64, d int64) (int64, int) {
	var at int64
	most := 0
	j := 0
	for i := range times {
		for j < len(times) && times[j] < times[i]+d {
			j++
		}
		if j-i > most {
			most, at = j-i, times[i]
		}
	}
	return at, most
}

func TestWaitEstimates(t *testing.T) {
	b := budget{grants: []grant{{t0 - 900_000, 4}, {t0 - 500_000, 3}, {t0 - 100_000, 3}}, day: utcDay(t0), used: 10}
	for _, tt := range []struct {
		k    int64
		want time.Duration
	}{
		{1, 100 * time.Millisecond},
		{4, 100 * time.Millisecond},
		{5, 500 * time.Millisecond},
		{10, 900 * time.Millisecond},
		{11, time.Second}, // beyond a window's worth
	} {
		if got := b.wait(t0, tt.k, testLimits); got != tt.want {
			t.Errorf("wait for the %d-th permit = %v, want %v", tt.k, got, tt.want)
		}
	}
}

func TestLearn(t *testing.T) {
	rl := func(remaining, dailyRemaining int) ghl.RateLimit {
		return ghl.RateLimit{Present: true, Max: 10, Remaining: remaining, Interval: 900 * time.Millisecond, DailyLimit: 100, DailyRemaining: dailyRemaining}
	}
	// base has learned HighLevel's limits already.
	base := budget{grants: []grant{{t0 - 500_000, 3}}, day: utcDay(t0), used: 3, max: 10, daily: 100}
	tests := []struct {
		name        string
		o           observation
		wantChanged bool
		after       budget
	}{
		{"as believed", observation{status: 200, rateLimit: rl(7, 97)}, false, base},
		{"more remaining than believed teaches nothing", observation{status: 200, rateLimit: rl(9, 99)}, false, base},
		{"no headers", observation{status: 200}, false, base},
		{
			"others used the window", observation{status: 200, rateLimit: rl(2, 97)}, true,
			budget{grants: []grant{{t0 - 500_000, 3}, {t0, 5}}, day: utcDay(t0), used: 3, max: 10, daily: 100},
		},
		{
			"HighLevel's limits replace the configured ones", observation{status: 200, rateLimit: ghl.RateLimit{Present: true,
				Max: 50, Remaining: 45, Interval: 900 * time.Millisecond, DailyLimit: 1000, DailyRemaining: 990}}, true,
			budget{grants: []grant{{t0 - 500_000, 3}, {t0, 2}}, day: utcDay(t0), used: 10, max: 50, daily: 1000},
		},
		{
			"a max for another interval is not taken", observation{status: 200, rateLimit: ghl.RateLimit{Present: true,
				Max: 50, Remaining: 45, Interval: time.Minute, DailyLimit: 100, DailyRemaining: 97}}, false, base,
		},
		{
			"others used the day", observation{status: 200, rateLimit: rl(7, 40)}, true,
			budget{grants: []grant{{t0 - 500_000, 3}}, day: utcDay(t0), used: 60, max: 10, daily: 100},
		},
		{
			"429 with Retry-After", observation{status: http.StatusTooManyRequests, rateLimit: rl(0, 50), retryAfter: 2 * time.Second}, true,
			budget{grants: []grant{{t0 - 500_000, 3}}, pausedUntil: t0 + 2_000_000, day: utcDay(t0), used: 3, max: 10, daily: 100},
		},
		{
			"429 without Retry-After pauses for the interval", observation{status: http.StatusTooManyRequests, rateLimit: rl(0, 50)}, true,
			budget{grants: []grant{{t0 - 500_000, 3}}, pausedUntil: t0 + 900_000, day: utcDay(t0), used: 3, max: 10, daily: 100},
		},
		{
			"429 without any header pauses for the span", observation{status: http.StatusTooManyRequests}, true,
			budget{grants: []grant{{t0 - 500_000, 3}}, pausedUntil: t0 + testLimits.span, day: utcDay(t0), used: 3, max: 10, daily: 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := base.clone()
			if changed := b.learn(t0, tt.o, testLimits, true); changed != tt.wantChanged {
				t.Errorf("learn changed = %v, want %v", changed, tt.wantChanged)
			}
			if diff := cmp.Diff(tt.after, b, cmp.AllowUnexported(budget{}, grant{}, openGrant{})); diff != "" {
				t.Errorf("budget after learn (-want +got):\n%s", diff)
			}
		})
	}
	// A shorter pause never shortens a longer one.
	b := budget{pausedUntil: t0 + 5_000_000}
	if b.learn(t0, observation{status: http.StatusTooManyRequests, retryAfter: time.Second}, testLimits, true) || b.pausedUntil != t0+5_000_000 {
		t.Errorf("a 1s pause changed a 5s one: %+v", b)
	}
	// Learning once is enough: the same report again changes nothing.
	b = base.clone()
	b.learn(t0, observation{status: 200, rateLimit: rl(2, 97)}, testLimits, true)
	if b.learn(t0+1000, observation{status: 200, rateLimit: rl(2, 97)}, testLimits, true) {
		t.Error("the same report learned twice")
	}
}

func TestBudgetEncoding(t *testing.T) {
	for _, b := range []budget{
		{grants: []grant{}},
		{grants: []grant{{t0, 3}, {t0, 1}, {t0 + 1, 100}, {t0 + 9_999_999, 1}}, pausedUntil: t0 + 5, day: utcDay(t0), used: 199_999,
			max: 100, daily: 200_000, open: []openGrant{{proc: 1<<62 - 1, n: 7, latest: t0}, {proc: 1, n: 1, latest: t0 - 5}},
			interactiveAt: t0 - 7, wantedUntil: t0 + 3, backgroundAt: t0 - 2, resetOffset: 5 * hourMicros},
	} {
		got, err := unmarshalBudget(b.marshal(false))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(b, got, cmp.AllowUnexported(budget{}, grant{}, openGrant{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	full := budget{day: utcDay(t0), used: 5}
	for i := range 100 {
		full.grants = append(full.grants, grant{t0 + int64(i)*100_000, 1})
	}
	if n := len(full.marshal(false)); n > 500 {
		t.Errorf("a window of 100 single grants takes %d bytes", n)
	}
	// A budget of the previous version, whose grants counted from the
	// permit, reads as closed grants.
	v1 := []byte{1, 5, 2, 0, 0, 0, 1, 7, 3}
	if got, err := unmarshalBudget(v1); err != nil || !cmp.Equal(got, budget{day: 5, used: 2, grants: []grant{{7, 3}}}, cmp.AllowUnexported(budget{}, grant{}, openGrant{})) {
		t.Errorf("version 1 budget read as %+v, %v", got, err)
	}
	// A budget of version 2 has no interactive time.
	v2 := []byte{2, 5, 2, 0, 0, 0, 1, 7, 3, 1, 9, 1, 7}
	if got, err := unmarshalBudget(v2); err != nil || !cmp.Equal(got, budget{day: 5, used: 2, grants: []grant{{7, 3}},
		open: []openGrant{{proc: 9, n: 1, latest: 7}}}, cmp.AllowUnexported(budget{}, grant{}, openGrant{})) {
		t.Errorf("version 2 budget read as %+v, %v", got, err)
	}
	// While the previous release's replicas may read it, a budget is
	// written in version 2, byte for byte the above: the lanes' times, the
	// reset's hour and the leases left out.
	prev := budget{day: 5, used: 2, grants: []grant{{7, 3}}, open: []openGrant{{proc: 9, n: 1, latest: 7, leased: 1}},
		interactiveAt: 4, wantedUntil: 6, backgroundAt: 2, resetOffset: hourMicros}
	if got := prev.marshal(true); !cmp.Equal(got, v2) {
		t.Errorf("budget written for the previous release: %v, want %v", got, v2)
	}
	for _, bad := range [][]byte{nil, {}, {3}, {2}, {1}, {1, 1, 1, 1, 1, 1, 5}, {2, 1, 1, 1, 1, 1, 0, 1, 1}, append(full.marshal(false), 0)} {
		if _, err := unmarshalBudget(bad); err == nil {
			t.Errorf("unmarshalBudget(%v) accepted", bad)
		}
	}
}

func FuzzUnmarshalBudget(f *testing.F) {
	f.Add((&budget{grants: []grant{{t0, 3}}, day: 1, used: 3}).marshal(false))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := unmarshalBudget(data)
		if err != nil {
			return
		}
		again, err := unmarshalBudget(b.marshal(false))
		if err != nil || !cmp.Equal(b, again, cmp.AllowUnexported(budget{}, grant{}, openGrant{})) {
			t.Fatalf("round trip of %v: %+v then %+v, %v", data, b, again, err)
		}
	})
}

// HighLevel's day restarting shows as its daily count far below the
// budget's: the budget takes HighLevel's count and the hour of the reset,
// and resets at that hour from then on.
func TestLearnsTheDailyReset(t *testing.T) {
	rl := func(dailyRemaining int) observation {
		return observation{status: 200, rateLimit: ghl.RateLimit{Present: true, Max: 10, Remaining: 9,
			Interval: 900 * time.Millisecond, DailyLimit: 100, DailyRemaining: dailyRemaining}}
	}
	now := t0 + 1_800_000_000 // 12:30 UTC
	b := budget{day: utcDay(now), used: 80, max: 10, daily: 100}
	if !b.learn(now, rl(98), testLimits, false) {
		t.Fatal("a count of 2 against 80 does not teach a reset")
	}
	b.learn(now, rl(98), testLimits, true)
	if b.resetOffset != 12*hourMicros || b.usedOn(now) != 2 {
		t.Fatalf("after the reset: offset %v, %d used; want 12h, 2", durationMicros(b.resetOffset), b.usedOn(now))
	}
	next := (utcDay(now)+1)*dayMicros + 12*hourMicros
	if got := b.resetAt(now); got != next {
		t.Errorf("reset at %v, want %v", time.UnixMicro(got).UTC(), time.UnixMicro(next).UTC())
	}
	// The next midnight UTC no longer resets the count; noon does.
	b.used = 95
	if got := b.usedOn(next - 1); got != 95 {
		t.Errorf("count just before the learned reset = %d, want 95", got)
	}
	if got := b.usedOn(next); got != 0 {
		t.Errorf("count at the learned reset = %d, want 0", got)
	}
	// A small day's count, or HighLevel counting a little less, is no reset.
	for _, c := range []struct {
		used      int64
		remaining int
	}{{9, 100}, {80, 50}} {
		b := budget{day: utcDay(now), used: c.used, max: 10, daily: 100}
		b.learn(now, rl(c.remaining), testLimits, true)
		if b.resetOffset != 0 || b.usedOn(now) != c.used {
			t.Errorf("%d used, HighLevel says %d remain: offset %v, %d used; want no reset", c.used, c.remaining,
				durationMicros(b.resetOffset), b.usedOn(now))
		}
	}
}

// A configured daily reset (Config.DailyReset) numbers the days from it:
// a day runs from one reset to the next, across midnight UTC, and the
// offset wraps (a reset a second before midnight). It wins over the offset
// a budget was read with, learning never moves it, and the encodings keep
// it (version 3) or drop it for the previous release (version 2).
func TestConfiguredDailyReset(t *testing.T) {
	midnight := utcDay(t0) * dayMicros
	for _, reset := range []time.Duration{0, 5*time.Hour + 30*time.Minute + 15*time.Second, 24*time.Hour - time.Second} {
		l := testLimits
		l.reset, l.resetSet = reset.Microseconds(), true
		at := midnight + l.reset // today's reset
		b := budget{resetOffset: 21 * hourMicros}
		b.settle(at-1, l)
		if b.resetOffset != l.reset {
			t.Fatalf("reset %v: offset %v after settle, want the configured one over the budget's 21h", reset, durationMicros(b.resetOffset))
		}
		// Day numbers: one day from a reset to the next, consistent on
		// both sides of midnight UTC.
		if b.dayOf(at-1)+1 != b.dayOf(at) || b.dayOf(at) != b.dayOf(at+dayMicros-1) || b.dayOf(at+dayMicros) != b.dayOf(at)+1 {
			t.Errorf("reset %v: days %d, %d, %d, %d around today's and tomorrow's reset", reset,
				b.dayOf(at-1), b.dayOf(at), b.dayOf(at+dayMicros-1), b.dayOf(at+dayMicros))
		}
		if reset > 0 && b.dayOf(midnight-1) != b.dayOf(midnight) {
			t.Errorf("reset %v: midnight UTC starts a day (%d, %d)", reset, b.dayOf(midnight-1), b.dayOf(midnight))
		}
		if got := b.resetAt(at - 1); got != at {
			t.Errorf("reset %v: resetAt a µs before = %v, want %v", reset, time.UnixMicro(got).UTC(), time.UnixMicro(at).UTC())
		}
		if got := b.resetAt(at); got != at+dayMicros {
			t.Errorf("reset %v: resetAt the reset = %v, want the next day's", reset, time.UnixMicro(got).UTC())
		}

		// The day's count reaches the cap a minute before the reset: no
		// permit, a wait to the reset; at the reset, permits again.
		now := at - 60_000_000
		b = budget{}
		b.settle(now, l)
		for i := int64(0); i < l.daily; i += 10 {
			now += l.span
			b.settle(now, l)
			if n, wait := b.take(now, 10, 1, l); n != 10 {
				t.Fatalf("reset %v: %d permits after %d, wait %v; want 10", reset, n, i, wait)
			}
			b.release(1, 0, []int64{now, now, now, now, now, now, now, now, now, now}, now, l)
		}
		if now >= at {
			t.Fatal("the cap comes after the reset: the test's arithmetic is wrong")
		}
		now = at - 1
		b.settle(now, l)
		if n, wait := b.take(now, 1, 1, l); n != 0 || wait != durationMicros(1) {
			t.Errorf("reset %v: a µs before the reset: %d permits, wait %v; want none, 1µs", reset, n, wait)
		}
		now = at
		b.settle(now, l)
		if n, _ := b.take(now, 1, 1, l); n != 1 || b.usedOn(now) != 1 {
			t.Errorf("reset %v: at the reset: %d permits, %d used; want 1, 1", reset, n, b.usedOn(now))
		}

		// HighLevel counting far fewer than the budget is not learned as
		// a reset at the hour: its count is taken, the offset kept.
		now = at + 2*hourMicros + 17_000_000
		b = budget{day: (now - l.reset) / dayMicros, used: 80, max: 10, daily: 100, resetOffset: l.reset}
		o := observation{status: 200, rateLimit: ghl.RateLimit{Present: true, Max: 10, Remaining: 9,
			Interval: 900 * time.Millisecond, DailyLimit: 100, DailyRemaining: 98}}
		b.settle(now, l)
		b.learn(now, o, l, true)
		if b.resetOffset != l.reset || b.usedOn(now) != 2 {
			t.Errorf("reset %v: after HighLevel's count of 2: offset %v, %d used; want the configured offset, 2", reset,
				durationMicros(b.resetOffset), b.usedOn(now))
		}

		// Version 3 keeps the offset; version 2 (the previous release's)
		// has none, and a configured reader puts it back.
		got, err := unmarshalBudget(b.marshal(false))
		if err != nil || got.resetOffset != l.reset {
			t.Errorf("reset %v: version 3 read back with offset %v (%v)", reset, durationMicros(got.resetOffset), err)
		}
		prev := b.marshal(true)
		if prev[0] != budgetVersionV2 {
			t.Fatalf("previous encoding is version %d", prev[0])
		}
		got, err = unmarshalBudget(prev)
		if err != nil || got.resetOffset != 0 {
			t.Errorf("reset %v: version 2 read back with offset %v (%v), want none", reset, durationMicros(got.resetOffset), err)
		}
		got.settle(now, l)
		if got.resetOffset != l.reset {
			t.Errorf("reset %v: version 2 settled with offset %v, want the configured one", reset, durationMicros(got.resetOffset))
		}
	}
}
