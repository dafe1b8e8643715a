package ratelimit

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Lanes (ghl.Lane, carried by the call's context) order the permits of one
// location: work a person waits for (interactive) before background work,
// without starving the background. The rules hold for every process of
// the fleet, since they live in the shared budget: the interactive and
// the background callers of a location are mostly in different processes
// (contactsync's post triggers; the fetcher, enricher, stats, automation).
//
//   - Interactive demand: while some process has interactive callers of
//     the location waiting for a permit, or deferred to come back for one
//     (budget.wantedUntil, which that process writes and renews while
//     background permits are being handed out), the
//     background gets a bounded share: one permit per span/reserve (about
//     a tenth of the window: 10 of 100 per 10 s), never more. The
//     interactive callers take the rest; the background still progresses.
//   - Recent interactive work: while an interactive permit was handed out
//     within the last span and no interactive caller waits, a background
//     permit is handed out only when it leaves the interactive reserve
//     free (a tenth of the window's limit, rounded up), so interactive
//     work that arrives finds permits at once. A location with no
//     interactive work gives the background its whole window.
//   - The day: from 90% of the day's limit on (180,000 of 200,000), only
//     interactive permits are handed out; the background waits for the
//     daily reset. At the limit, nothing until the reset.
//   - In one process, the callers of a location are served interactive
//     first, each lane oldest first, and each lane has its own
//     MaxWaiters; a deferred caller is given a time after the permits of
//     the waiting and deferred callers of its own lane and of the lanes
//     before it.
const (
	// reserveDivisor: the interactive reserve, and the background's share
	// under interactive demand, are max/reserveDivisor.
	reserveDivisor = 10
	// backgroundDailyPercent is the share of the day's limit background
	// permits may use.
	backgroundDailyPercent = 90
	// demandHold is, in spans, how long one mark of interactive demand
	// stands at most: a process that dies leaves no demand behind longer.
	demandHold = 3
)

// laneRule is what a permit may not take: the zero value is the
// interactive lane's, which may take everything.
type laneRule struct {
	// reserve keeps the interactive reserve of the window free.
	reserve bool
	// dailyStop keeps the last tenth of the day's limit.
	dailyStop bool
	// trickle, when positive, is the least time (µs) between two
	// background permits: the background's share under interactive demand,
	// which lasts until until (µs).
	trickle, until int64
}

// trickled returns when the k-th next background permit after one at
// last is due under the rule's trickle: k trickles later, or when the
// interactive demand ends, whichever comes first; after that, the window
// decides.
func (r laneRule) trickled(last, k int64) int64 {
	return min(last+k*r.trickle, r.until)
}

// apply returns l (whose max and daily are those in effect) less what the
// rule keeps.
func (r laneRule) apply(l limits) limits {
	if r.reserve {
		l.max -= reserve(l.max)
	}
	if r.dailyStop {
		l.daily = BackgroundDaily(l.daily)
	}
	l.lane = laneRule{}
	return l
}

// reserve returns the interactive reserve of a window of max permits.
func reserve(max int64) int64 { return (max + reserveDivisor - 1) / reserveDivisor }

// BackgroundDaily is the part of a daily limit background work may use:
// 90% of it, rounded down.
func BackgroundDaily(daily int64) int64 { return daily * backgroundDailyPercent / 100 }

// forLane returns l restricted for a permit of lane in b at now.
func (b *budget) forLane(now int64, l limits, lane ghl.Lane) limits {
	if lane == ghl.LaneInteractive {
		return l
	}
	rule := laneRule{dailyStop: true}
	switch {
	case b.wantedUntil > now:
		rule.trickle, rule.until = max(l.span/reserve(b.limits(l).max), 1), b.wantedUntil
	case b.interactiveAt > 0 && b.interactiveAt+l.span > now:
		rule.reserve = true
	}
	l.lane = rule
	return l
}

// want records that interactive callers want permits until until (µs),
// capped to demandHold spans from now, and reports whether that changed b:
// only an extension by more than a tenth of a span is written, so that a
// lasting demand costs a few writes a window, and only while background
// permits were handed out within the last demandHold spans: with no
// background work to hold back, the mark would cost writes for nothing.
func (b *budget) want(now, until int64, l limits) bool {
	until = min(until, now+demandHold*l.span)
	if until <= now || until <= b.wantedUntil+l.span/10 || b.backgroundAt == 0 || b.backgroundAt+demandHold*l.span <= now {
		return false
	}
	b.wantedUntil = until
	return true
}

// takeLanes hands out up to wantI interactive and wantB background
// permits at now to proc, interactive first, and returns how many of each
// and, when none, how long until one may be free. Interactive callers
// left without a permit mark their demand until now+wait. It reports in
// changed whether b changed. The caller has settled b.
func (b *budget) takeLanes(now, wantI, wantB, proc int64, l limits) (gotI, gotB int64, wait time.Duration, changed bool) {
	waitI, waitB := time.Duration(-1), time.Duration(-1)
	if wantI > 0 {
		gotI, waitI = b.take(now, wantI, proc, l)
		if gotI > 0 {
			b.interactiveAt = max(b.interactiveAt, now)
		}
		if gotI < wantI {
			changed = b.want(now, now+max(waitI.Microseconds(), l.span/10), l)
		}
	}
	if wantB > 0 {
		gotB, waitB = b.take(now, wantB, proc, b.forLane(now, l, ghl.LaneBackground))
		if gotB > 0 {
			b.backgroundAt = max(b.backgroundAt, now)
		}
	}
	changed = changed || gotI+gotB > 0
	if gotI+gotB > 0 {
		return gotI, gotB, 0, changed
	}
	switch {
	case waitI < 0:
		return 0, 0, waitB, changed
	case waitB < 0:
		return 0, 0, waitI, changed
	}
	return 0, 0, min(waitI, waitB), changed
}

// resetMinUsed is the least day's count from which HighLevel's reporting
// less than half of it is taken for its daily reset (see budget.learn).
const resetMinUsed = 10

// inLane returns how many callers of lane wait. The caller holds r.mu.
func (r *resource) inLane(lane ghl.Lane) int {
	n := 0
	for _, w := range r.waiters {
		if w.lane == lane {
			n++
		}
	}
	return n
}

// ahead returns how many waiting callers go before a new caller of lane:
// those of its lane and of the lanes before it. The caller holds r.mu.
func (r *resource) ahead(lane ghl.Lane) int {
	n := 0
	for _, w := range r.waiters {
		if w.lane <= lane {
			n++
		}
	}
	return n
}

// serve hands gotI interactive and gotB background permits to the waiters
// of each lane, oldest first, and returns how many it handed out. The
// caller holds r.mu.
func (r *resource) serve(gotI, gotB int64) int64 {
	quota := [2]int64{gotI, gotB}
	var served int64
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if quota[w.lane] == 0 {
			kept = append(kept, w)
			continue
		}
		quota[w.lane]--
		served++
		close(w.ready)
	}
	clear(r.waiters[len(kept):])
	r.waiters = kept
	return served
}

// InLane returns h with every HighLevel call it makes in lane: the lane
// of a consumer's route, set where the route is declared.
func InLane(lane ghl.Lane, h bus.Handler) bus.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		return h(ghl.WithLane(ctx, lane), msg)
	}
}
