package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Headroom is what is left of a location's fleet-wide budget at one
// moment, as dashboards show it.
type Headroom struct {
	// Max and Window are the rolling limit in effect (HighLevel's reported
	// one once a response said); Used the permits the budget holds now:
	// those in flight and those answered within the window.
	Max    int64
	Window time.Duration
	Used   int64
	// Daily is the day's limit, DailyUsed the day's count (permits handed
	// out plus what HighLevel reported as used by others; a leased permit
	// once its process reports it spent, at its lease's end at the latest).
	Daily     int64
	DailyUsed int64
	// PausedUntil is the end of a pause a 429 asked for; zero when none.
	PausedUntil time.Time
	// DailyResetAt is when the day's count starts again: the configured
	// reset (Config.DailyReset) when there is one, else the next midnight
	// UTC, or the hour after it that HighLevel's X-RateLimit-Daily-Remaining
	// showed its reset at (HighLevel names no reset time; see
	// budget.learn). Until then, at
	// BackgroundDaily(Daily) only interactive calls are made, and at Daily
	// none: the location's work is deferred to DailyResetAt.
	DailyResetAt time.Time
	// DailyResetConfigured reports whether DailyResetAt comes from
	// Config.DailyReset rather than from the budget (learned, or midnight
	// UTC).
	DailyResetConfigured bool
}

// Remaining is the permits free in the current window.
func (h Headroom) Remaining() int64 { return max(h.Max-h.Used, 0) }

// DailyRemaining is the permits left today.
func (h Headroom) DailyRemaining() int64 { return max(h.Daily-h.DailyUsed, 0) }

// DailyForecast returns when, read at now, the day's count reaches Daily
// at the rate of the day so far (DailyUsed over the time since the day
// began, a day before DailyResetAt), to the second, and whether that is
// before DailyResetAt; now when the cap is reached already. Within the
// day's first minute there is no rate yet.
func (h Headroom) DailyForecast(now time.Time) (time.Time, bool) {
	now = now.UTC()
	if h.Daily <= 0 || h.DailyUsed <= 0 || h.DailyResetAt.IsZero() {
		return time.Time{}, false
	}
	if h.DailyUsed >= h.Daily {
		return now, true
	}
	elapsed := now.Sub(h.DailyResetAt.Add(-24 * time.Hour))
	if elapsed < time.Minute {
		return time.Time{}, false
	}
	at := now.Add(time.Duration(float64(h.Daily-h.DailyUsed) / float64(h.DailyUsed) * float64(elapsed)))
	if !at.Before(h.DailyResetAt) {
		return time.Time{}, false
	}
	return at.Truncate(time.Second), true
}

// Headroom reads loc's budget from the bucket (not this process's copy)
// and returns what is left of it now. A location that never asked for a
// permit has its whole budget.
func (g *Governor) Headroom(ctx context.Context, loc string) (Headroom, error) {
	if !ghl.ValidID(loc) {
		return Headroom{}, fmt.Errorf("%w: %q", ErrInvalidKey, truncate(loc))
	}
	var b budget
	e, err := g.kv.Get(ctx, keyPrefix+loc)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return Headroom{}, fmt.Errorf("read rate budget of %s: %w", loc, err)
	default:
		if b, err = unmarshalBudget(e.Value()); err != nil {
			return Headroom{}, fmt.Errorf("read rate budget of %s: %w", loc, err)
		}
	}
	return g.headroomOf(b, micros(g.cfg.Now())), nil
}

// headroomOf is what is left of budget b at now (µs).
func (g *Governor) headroomOf(b budget, now int64) Headroom {
	b.configure(g.lim)
	l := b.limits(g.lim)
	h := Headroom{Max: l.max, Window: g.cfg.Window, Used: b.heldAt(now, l), Daily: l.daily, DailyUsed: b.usedOn(now),
		DailyResetAt: time.UnixMicro(b.resetAt(now)).UTC(), DailyResetConfigured: g.lim.resetSet}
	if b.pausedUntil > now {
		h.PausedUntil = time.UnixMicro(b.pausedUntil)
	}
	return h
}
