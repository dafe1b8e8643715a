package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Location lifecycle settings (docs/lifecycle.md).
const (
	// DefaultPauseMax is how long a paused location's triggers are kept
	// (SOCIALSYNC_PAUSE_MAX).
	DefaultPauseMax = 30 * 24 * time.Hour
	// DefaultPauseRecheck is how long a message of a held location waits
	// before it is looked at again (SOCIALSYNC_PAUSE_RECHECK).
	DefaultPauseRecheck = time.Minute
	// heldTTL is how long a location's hold, or its absence, is trusted
	// by one process before the location record is read again.
	heldTTL = 2 * time.Second
)

// validateLifecycle checks SOCIALSYNC_PAUSE_MAX and
// SOCIALSYNC_PAUSE_RECHECK.
func (c Config) validateLifecycle() []error {
	var errs []error
	switch {
	case c.PauseMax <= 0:
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_PAUSE_MAX: want a positive duration, got %v", ErrConfig, c.PauseMax))
	case c.PauseMax >= topology.TriggersMaxAge:
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_PAUSE_MAX: want less than the max age of %s (%v), got %v: a paused location's triggers must still be stored when it resumes",
			ErrConfig, topology.StreamTriggers, topology.TriggersMaxAge, c.PauseMax))
	}
	if c.PauseRecheck <= 0 || c.PauseRecheck > time.Hour {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_PAUSE_RECHECK: want a duration above zero and at most 1h, got %v", ErrConfig, c.PauseRecheck))
	}
	return errs
}

// heldLocations is the hold check every route of a process runs after the
// location check: a message for a location that is paused, or needs
// re-authorisation, is handed back for recheck (creds.HeldError, a
// deferral: never a failure, never a dead letter) before its handler
// runs, so nothing calls HighLevel for it. A message whose handler finds
// the location needing re-authorisation (its refresh refused just now,
// here or in another process since the record was read) is held the same
// way. A location's record is read at most once per heldTTL per process,
// and again after such a finding.
type heldLocations struct {
	dir     *creds.Directory
	recheck time.Duration
	now     func() time.Time

	mu    sync.Mutex
	known map[string]heldEntry
}

type heldEntry struct {
	hold  creds.Hold
	held  bool
	until time.Time
}

func newHeld(dir *creds.Directory, recheck time.Duration) *heldLocations {
	return &heldLocations{dir: dir, recheck: recheck, now: time.Now, known: map[string]heldEntry{}}
}

// middleware returns the check as a bus.Middleware.
func (h *heldLocations) middleware(next bus.Handler) bus.Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		_, loc, err := bus.ParseSubject(msg.Subject())
		if err != nil {
			return next(ctx, msg)
		}
		hold, held, err := h.check(ctx, loc)
		if err != nil {
			return err
		}
		if held {
			return &creds.HeldError{Location: loc, Hold: hold, Wait: h.recheck}
		}
		err = next(ctx, msg)
		if err == nil {
			return nil
		}
		// The handler may have found the location needing
		// re-authorisation (its refresh token refused just now, here or
		// in another process): its message is then held like the later
		// ones, looked at again after the recheck rather than after the
		// auth class's longer wait (bus.AuthWait), so that it goes on
		// soon after the location is connected again.
		var reauth *creds.NeedsReauthError
		if errors.As(err, &reauth) && reauth.Location == loc {
			// The token record says so; the location record may not
			// yet (it is marked second): the next check reads it again.
			h.forget(loc)
			return &creds.HeldError{Location: loc, Hold: creds.Hold{Reason: creds.HoldNeedsReauth, Since: reauth.Since}, Wait: h.recheck}
		}
		if class, _ := bus.Classify(err); class == bus.ClassAuth {
			// A 401 or 403 left after the refresh: held if the location
			// was marked meanwhile, else the auth class's wait.
			h.forget(loc)
			if hold, held, cerr := h.check(ctx, loc); cerr == nil && held {
				return &creds.HeldError{Location: loc, Hold: hold, Wait: h.recheck}
			}
		}
		return err
	}
}

// forget drops what the process knows of loc's hold: its record changed.
func (h *heldLocations) forget(loc string) {
	h.mu.Lock()
	delete(h.known, loc)
	h.mu.Unlock()
}

func (h *heldLocations) check(ctx context.Context, loc string) (creds.Hold, bool, error) {
	now := h.now()
	h.mu.Lock()
	e, ok := h.known[loc]
	h.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.hold, e.held, nil
	}
	l, err := h.dir.Location(ctx, loc)
	if errors.Is(err, creds.ErrUnknownLocation) {
		// Removed meanwhile: the handler finds out as it would.
		return creds.Hold{}, false, nil
	}
	if err != nil {
		return creds.Hold{}, false, fmt.Errorf("check whether location %s is paused: %w", loc, err)
	}
	hold, held := l.Held()
	h.mu.Lock()
	defer h.mu.Unlock()
	// Bounded by the registered locations: the location check ran first.
	h.known[loc] = heldEntry{hold: hold, held: held, until: now.Add(heldTTL)}
	return hold, held, nil
}

// Held reports whether loc's work is held back (paused, or needing
// re-authorisation), from a location record at most 2 s old: the
// gateway's check before it stores a trigger.
func (d *Deps) Held(ctx context.Context, loc string) (creds.Hold, bool, error) {
	if d.held == nil {
		return creds.Hold{}, false, nil
	}
	return d.held.check(ctx, loc)
}
