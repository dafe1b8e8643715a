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
	// DefaultMaxDefer bounds how long a caller is told to stay away.
	DefaultMaxDefer = 5 * time.Minute
	// DefaultFlightBound is ghl.DefaultAttemptTimeout (30 s), the longest
	// a request of the client can take, plus 5 s for the scheduling
	// between a permit and the start of its attempt.
	DefaultFlightBound = 35 * time.Second
	// DefaultIdleTTL is how long a location nobody asked a permit for
	// keeps its state in a process's memory.
	DefaultIdleTTL = 5 * time.Minute
)

// Config sets the limits a Governor keeps. Every process of the fleet must
// use the same limits: they share one budget per resource. The zero value
// of each field means its default.
type Config struct {
	// Max requests in any rolling Window, per resource.
	Max    int
	Window time.Duration
	// Daily requests per resource and day (see DailyReset).
	Daily int64
	// DailyReset is when, after midnight UTC, HighLevel's daily count
	// starts again (whole seconds, from 0 to under 24h): the operator's
	// SOCIALSYNC_RATE_DAILY_RESET. HighLevel names no reset time; nil
	// means midnight UTC until a reset is learned from
	// X-RateLimit-Daily-Remaining (budget.learn), at the whole hour it was
	// seen. Set, it wins over a learned one: the budgets this process
	// writes carry it, and it is never learned over.
	DailyReset *time.Duration
	// MaxWait is the longest Acquire blocks; when a permit is further
	// away, it returns a *PacedError at once.
	MaxWait time.Duration
	// MaxWaiters is how many callers of Acquire one process lets block on
	// one resource at a time, beyond the permits free at that moment; the
	// next ones get a *PacedError. It keeps a paced resource from taking
	// every handler slot of a consumer.
	MaxWaiters int
	// MaxDefer is the longest a *PacedError tells a caller to stay away:
	// a location at its daily cap has its messages looked at again this
	// often until the reset, rather than parked for hours on an estimate.
	// Defaults to DefaultMaxDefer.
	MaxDefer time.Duration
	// Guard is added to the window a closed permit is held for after its
	// response: it covers the disagreement between the clocks of the
	// fleet's hosts (and HighLevel's), nothing else, since a permit holds
	// from its grant until its response arrives. Defaults to a hundredth
	// of the window (100 ms of 10 s).
	Guard time.Duration
	// FlightBound is the longest an admitted request can take to reach
	// HighLevel after its permit: the HighLevel client's per-attempt
	// timeout plus the scheduling before the attempt starts. The open
	// permits of a process that died are held until FlightBound+Window+
	// Guard after its latest one; a live process closes them as their
	// responses come. Defaults to DefaultFlightBound, for the client's
	// default attempt timeout.
	FlightBound time.Duration
	// IdleTTL is how long a location's state stays in this process's
	// memory after its last use, when nobody waits for it and none of its
	// permits is open. Defaults to DefaultIdleTTL.
	IdleTTL time.Duration
	// Lease is how many permits a process leases at once for one lane of
	// a location whose budget is far from full, for its next callers of
	// that lane to take with no round trip to NATS (lease.go): at most a
	// tenth of Max, for a tenth of the Window (at most a second). Zero,
	// the default, leases nothing: every permit is taken from the budget.
	Lease int
	// PreviousReaders reports whether replicas of the previous release
	// may still read the budgets (the fleet sets it from
	// SOCIALSYNC_RATE_PREVIOUS_BUDGETS: docs/operations.md, "Upgrading from
	// v0.1.0"). v0.1.0 reads budgets of versions 1 and 2 only, and counts
	// the window of any other as full: while PreviousReaders holds, budgets
	// are written in version 2 (without the lanes' times, the daily reset's
	// hour or leases, which are not taken). Nil means never.
	PreviousReaders func() bool
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
	if c.MaxDefer < 0 {
		bad("MaxDefer", c.MaxDefer)
	}
	if c.Guard < 0 {
		bad("Guard", c.Guard)
	}
	if c.FlightBound < 0 {
		bad("FlightBound", c.FlightBound)
	}
	if c.IdleTTL < 0 {
		bad("IdleTTL", c.IdleTTL)
	}
	if c.Lease < 0 {
		bad("Lease", c.Lease)
	}
	if d := c.DailyReset; d != nil && (*d < 0 || *d >= 24*time.Hour || *d%time.Second != 0) {
		errs = append(errs, fmt.Errorf("%w: DailyReset must be whole seconds from 0s to under 24h after midnight UTC, got %v", ErrConfig, *d))
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
	if c.MaxDefer == 0 {
		c.MaxDefer = DefaultMaxDefer
	}
	if c.Guard == 0 {
		c.Guard = c.Window / 100
	}
	if c.FlightBound == 0 {
		c.FlightBound = DefaultFlightBound
	}
	if c.IdleTTL == 0 {
		c.IdleTTL = DefaultIdleTTL
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
	l := limits{max: int64(c.Max), daily: c.Daily, window: c.Window.Microseconds(), span: (c.Window + c.Guard).Microseconds(),
		flight: c.FlightBound.Microseconds()}
	if c.DailyReset != nil {
		l.reset, l.resetSet = c.DailyReset.Microseconds(), true
	}
	return l
}
