package ratelimit

import (
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// The lanes' rules on one budget (testLimits: 10 a window of a span of
// 1 s, 100 a day; the interactive reserve is 1, and so the background's
// share under interactive demand one permit a span; its day is 90).
func TestTakeLanes(t *testing.T) {
	day := utcDay(t0)
	tests := []struct {
		name         string
		b            budget
		wantI, wantB int64
		gotI, gotB   int64
		waits        bool
	}{
		{name: "interactive goes first, and keeps its reserve", b: budget{grants: []grant{{t0 - 500_000, 7}}, day: day, used: 7},
			wantI: 2, wantB: 5, gotI: 2, gotB: 0},
		{name: "background keeps the reserve while interactive work is recent",
			b:     budget{grants: []grant{{t0 - 500_000, 9}}, day: day, used: 9, interactiveAt: t0 - 500_000},
			wantB: 1, waits: true},
		{name: "background takes the whole window when no interactive work is recent",
			b:     budget{grants: []grant{{t0 - 500_000, 9}}, day: day, used: 9, interactiveAt: t0 - 2_000_000},
			wantB: 1, gotB: 1},
		{name: "background takes several permits when nobody else wants them",
			b:     budget{grants: []grant{{t0 - 500_000, 2}}, day: day, used: 2},
			wantB: 5, gotB: 5},
		{name: "under interactive demand the background trickles",
			b:     budget{grants: []grant{{t0 - 500_000, 2}}, day: day, used: 2, wantedUntil: t0 + 500_000, backgroundAt: t0 - 1_200_000},
			wantB: 5, gotB: 1},
		{name: "under interactive demand the background waits for its turn",
			b:     budget{grants: []grant{{t0 - 500_000, 2}}, day: day, used: 2, wantedUntil: t0 + 500_000, backgroundAt: t0 - 500_000},
			wantB: 5, waits: true},
		{name: "the background's turn is not held back by the reserve",
			b: budget{grants: []grant{{t0 - 500_000, 9}}, day: day, used: 9, interactiveAt: t0 - 500_000,
				wantedUntil: t0 + 500_000, backgroundAt: t0 - 1_200_000},
			wantB: 1, gotB: 1},
		{name: "background stops at 90% of the day", b: budget{day: day, used: 90},
			wantB: 3, waits: true},
		{name: "interactive goes on to the cap", b: budget{day: day, used: 90},
			wantI: 20, wantB: 3, gotI: 10},
		{name: "at the cap nothing", b: budget{day: day, used: 100},
			wantI: 1, wantB: 1, waits: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b.clone()
			gotI, gotB, wait, changed := b.takeLanes(t0, tt.wantI, tt.wantB, 1, testLimits)
			if gotI != tt.gotI || gotB != tt.gotB || (wait > 0) != tt.waits {
				t.Errorf("takeLanes = %d interactive, %d background, wait %v; want %d, %d, waits %v",
					gotI, gotB, wait, tt.gotI, tt.gotB, tt.waits)
			}
			if gotI+gotB > 0 && !changed {
				t.Error("permits handed out, budget reported unchanged")
			}
			if gotI > 0 && b.interactiveAt != t0 {
				t.Errorf("interactiveAt = %d after an interactive permit, want %d", b.interactiveAt, t0)
			}
			if gotB > 0 && b.backgroundAt != t0 {
				t.Errorf("backgroundAt = %d after a background permit, want %d", b.backgroundAt, t0)
			}
		})
	}
}

// Interactive callers left without a permit mark their demand in the
// budget, for the other processes' background callers to see, when there
// are any; a mark is bounded in time and written again only when it grows
// by a tenth of a span.
func TestInteractiveDemandIsMarked(t *testing.T) {
	// With no background work going on, there is nothing to mark.
	b := budget{grants: []grant{{t0 - 500_000, 10}}, day: utcDay(t0), used: 10}
	if _, _, _, changed := b.takeLanes(t0, 3, 0, 1, testLimits); changed || b.wantedUntil != 0 {
		t.Fatalf("full window, no background: changed %v, wantedUntil %d; want no mark", changed, b.wantedUntil)
	}
	b.backgroundAt = t0 - 300_000
	gotI, _, wait, changed := b.takeLanes(t0, 3, 0, 1, testLimits)
	if gotI != 0 || wait <= 0 || !changed || b.wantedUntil <= t0 {
		t.Fatalf("full window: %d permits, wait %v, changed %v, wantedUntil %d; want none, a wait, a mark after %d",
			gotI, wait, changed, b.wantedUntil, t0)
	}
	if bg := b.forLane(t0, testLimits, ghl.LaneBackground); bg.lane.trickle != 1_000_000 {
		t.Errorf("background rule under demand %+v, want a trickle of 1 s", bg.lane)
	}
	if b.want(t0+10_000, b.wantedUntil+10_000, testLimits) {
		t.Error("a mark extended by 10 ms is written again")
	}
	if !b.want(t0, t0+100*testLimits.span, testLimits) || b.wantedUntil != t0+demandHold*testLimits.span {
		t.Errorf("a mark 100 spans ahead stands until %d, want %d", b.wantedUntil, t0+demandHold*testLimits.span)
	}
	if bg := b.forLane(b.wantedUntil, testLimits, ghl.LaneBackground); bg.lane.trickle != 0 {
		t.Errorf("background rule after the mark %+v, want no trickle", bg.lane)
	}
}

// Background work past 90% of the day, and anything at the cap, waits for
// the daily reset: the next midnight UTC.
func TestDailyStopWaitsForTheReset(t *testing.T) {
	b := budget{day: utcDay(t0), used: 90}
	bg := b.forLane(t0, testLimits, ghl.LaneBackground)
	reset := durationMicros(b.resetAt(t0) - t0)
	if got := b.wait(t0, 1, bg); got != reset {
		t.Errorf("background wait at 90%% = %v, want until the reset (%v)", got, reset)
	}
	if got := b.wait(t0, 1, testLimits); got != 0 {
		t.Errorf("interactive wait at 90%% = %v, want 0", got)
	}
	b.used = 100
	if got := b.wait(t0, 1, testLimits); got != reset {
		t.Errorf("interactive wait at the cap = %v, want until the reset (%v)", got, reset)
	}
	if got := b.wait(b.resetAt(t0), 1, bg); got != 0 {
		t.Errorf("background wait after the reset = %v, want 0", got)
	}
	if reset <= 0 || reset > 24*time.Hour {
		t.Errorf("reset %v away", reset)
	}
}
