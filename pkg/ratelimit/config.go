package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults: HighLevel's documented limits per location (and per company),
// and how long a caller of Acquire may block.
const (
	DefaultMax        = 100
	DefaultWindow     = 10 * time.Second
	DefaultDaily      = 200_000
	DefaultMaxWait    = 2 * time.Second
	DefaultMaxWaiters = 2
	// DefaultMinGuard is the least Guard: the time from a permit to
	// HighLevel's receipt of the request includes the scheduling of a
	// busy node (two CPU burners beside a replica delayed requests by more
	// than the 40ms a fiftieth of a 2s window gave), a new connection and
	// the network.
	DefaultMinGuard = 250 * time.Millisecond
)

// Config sets the limits a Governor keeps. Every process of the fleet must
// use the same limits: they share one budget per resource. The zero value
// of each field means its default.
type Config struct {
	// Max requests in any rolling Window, per resource.
	Max    int
	Window time.Duration
	// Daily requests per resource and UTC day.
	Daily int64
	// MaxWait is the longest Acquire blocks; when a permit is further
	// away, it returns a *PacedError at once.
	MaxWait time.Duration
	// MaxWaiters is how many callers of Acquire one process lets block on
	// one resource at a time, beyond the permits free at that moment; the
	// next ones get a *PacedError. It keeps a paced resource from taking
	// every handler slot of a consumer.
	MaxWaiters int
	// Guard is added to the window: a permit counts against the budget
	// for Window+Guard from the moment it is handed out. It must cover the
	// time from the permit to HighLevel's receipt of the request, and the
	// disagreement between the clocks of the fleet's hosts. Defaults to a
	// fortieth of the window and at least DefaultMinGuard, unless that is
	// more than a quarter of the window, which caps it.
	Guard time.Duration
	// Log receives the pauses; nil discards.
	Log *slog.Logger
	// Now is the clock of the permits and of the UTC day the daily budget
	// counts; nil means time.Now. Tests pin it.
	Now func() time.Time
}

// ErrConfig marks an invalid Config.
var ErrConfig = errors.New("ratelimit: invalid config")

// withDefaults returns c with its zero fields set to their defaults, or an
// error naming the first negative one.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field string, v any) {
		errs = append(errs, fmt.Errorf("%w: %s must not be negative, got %v", ErrConfig, field, v))
	}
	if c.Max < 0 {
		bad("Max", c.Max)
	}
	if c.Window < 0 {
		bad("Window", c.Window)
	}
	if c.Daily < 0 {
		bad("Daily", c.Daily)
	}
	if c.MaxWait < 0 {
		bad("MaxWait", c.MaxWait)
	}
	if c.MaxWaiters < 0 {
		bad("MaxWaiters", c.MaxWaiters)
	}
	if c.Guard < 0 {
		bad("Guard", c.Guard)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if c.Max == 0 {
		c.Max = DefaultMax
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Window < time.Millisecond {
		return c, fmt.Errorf("%w: Window must be at least 1ms, got %v", ErrConfig, c.Window)
	}
	if c.Daily == 0 {
		c.Daily = DefaultDaily
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxWaiters == 0 {
		c.MaxWaiters = DefaultMaxWaiters
	}
	if c.Guard == 0 {
		c.Guard = min(max(c.Window/40, DefaultMinGuard), c.Window/4)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func (c Config) limits() limits {
	return limits{max: int64(c.Max), daily: c.Daily, window: c.Window.Microseconds(), span: (c.Window + c.Guard).Microseconds()}
}
