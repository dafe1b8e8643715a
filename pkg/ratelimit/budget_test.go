package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// testLimits: 10 per window of 900ms, a window plus guard of 1s (in µs),
// 100 a day.
var testLimits = limits{max: 10, daily: 100, window: 900_000, span: 1_000_000}

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
			after: budget{grants: []grant{{t0, 4}}, day: utcDay(t0), used: 4},
		},
		{
			name: "never more than the window holds",
			b:    budget{grants: []grant{{t0 - 500_000, 7}}, day: utcDay(t0), used: 7}, now: t0, want: 5, wantGot: 3,
			after: budget{grants: []grant{{t0 - 500_000, 7}, {t0, 3}}, day: utcDay(t0), used: 10},
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
			after: budget{grants: []grant{{t0, 2}}, day: utcDay(t0), used: 12},
		},
		{
			name: "HighLevel's reported max replaces the configured one",
			b:    budget{grants: []grant{{t0 - 500_000, 10}}, day: utcDay(t0), used: 10, max: 15}, now: t0, want: 8, wantGot: 5,
			after: budget{grants: []grant{{t0 - 500_000, 10}, {t0, 5}}, day: utcDay(t0), used: 15, max: 15},
		},
		{
			name: "paused", b: budget{pausedUntil: t0 + 1_500_000, day: utcDay(t0)}, now: t0, want: 1,
			wantWait: 1500 * time.Millisecond,
			after:    budget{pausedUntil: t0 + 1_500_000, day: utcDay(t0)},
		},
		{
			name: "a pause ends", b: budget{pausedUntil: t0, day: utcDay(t0)}, now: t0, want: 1, wantGot: 1,
			after: budget{grants: []grant{{t0, 1}}, day: utcDay(t0), used: 1},
		},
		{
			name: "the day's budget caps the window's",
			b:    budget{day: utcDay(t0), used: 98}, now: t0, want: 5, wantGot: 2,
			after: budget{grants: []grant{{t0, 2}}, day: utcDay(t0), used: 100},
		},
		{
			name: "day spent: wait for the next UTC day",
			b:    budget{day: utcDay(t0), used: 100}, now: t0, want: 1, wantWait: 12 * time.Hour,
			after: budget{day: utcDay(t0), used: 100},
		},
		{
			name: "a new day starts a new count",
			b:    budget{day: utcDay(t0) - 1, used: 100}, now: t0, want: 1, wantGot: 1,
			after: budget{grants: []grant{{t0, 1}}, day: utcDay(t0), used: 1},
		},
		{
			name: "a grant from a clock a little behind stays in order",
			b:    budget{grants: []grant{{t0 + 2000, 1}}, day: utcDay(t0), used: 1}, now: t0, want: 1, wantGot: 1,
			after: budget{grants: []grant{{t0, 1}, {t0 + 2000, 1}}, day: utcDay(t0), used: 2},
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
			got, wait := b.take(tt.now, tt.want, testLimits)
			if got != tt.wantGot || wait != tt.wantWait {
				t.Errorf("take = %d, %v; want %d, %v", got, wait, tt.wantGot, tt.wantWait)
			}
			if diff := cmp.Diff(tt.after, b, cmp.AllowUnexported(budget{}, grant{})); diff != "" {
				t.Errorf("budget after take (-want +got):\n%s", diff)
			}
		})
	}
}

// However the grants fall, no rolling window ever holds more than max.
func TestTakeNeverOverfillsAWindow(t *testing.T) {
	l := testLimits
	l.daily = 1 << 40
	var b budget
	var granted []int64 // one entry per permit
	now := t0
	for step := range 5000 {
		now += int64(1 + (step*7919)%97_000) // irregular steps, under a tenth of the span
		b.settle(now, l)
		got, _ := b.take(now, int64(1+step%4), l)
		for range got {
			granted = append(granted, now)
		}
	}
	for i := range granted {
		j := i
		for j < len(granted) && granted[j] < granted[i]+l.span {
			j++
		}
		if j-i > int(l.max) {
			t.Fatalf("%d permits within one span from %d", j-i, granted[i])
		}
	}
	// Nor does it starve: asked often, it hands out nearly a window's worth
	// per span.
	if allowed := (now - t0) / l.span * l.max; int64(len(granted)) < allowed*9/10 {
		t.Errorf("%d permits over the run, where %d were allowed", len(granted), allowed)
	}
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
			if diff := cmp.Diff(tt.after, b, cmp.AllowUnexported(budget{}, grant{})); diff != "" {
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
			max: 100, daily: 200_000},
	} {
		got, err := unmarshalBudget(b.marshal())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(b, got, cmp.AllowUnexported(budget{}, grant{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	full := budget{day: utcDay(t0), used: 5}
	for i := range 100 {
		full.grants = append(full.grants, grant{t0 + int64(i)*100_000, 1})
	}
	if n := len(full.marshal()); n > 500 {
		t.Errorf("a window of 100 single grants takes %d bytes", n)
	}
	for _, bad := range [][]byte{nil, {}, {2}, {1}, {1, 1, 1, 1, 1, 1, 5}, append(full.marshal(), 0)} {
		if _, err := unmarshalBudget(bad); err == nil {
			t.Errorf("unmarshalBudget(%v) accepted", bad)
		}
	}
}

func FuzzUnmarshalBudget(f *testing.F) {
	f.Add((&budget{grants: []grant{{t0, 3}}, day: 1, used: 3}).marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := unmarshalBudget(data)
		if err != nil {
			return
		}
		again, err := unmarshalBudget(b.marshal())
		if err != nil || !cmp.Equal(b, again, cmp.AllowUnexported(budget{}, grant{})) {
			t.Fatalf("round trip of %v: %+v then %+v, %v", data, b, again, err)
		}
	})
}
