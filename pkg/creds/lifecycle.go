package creds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Pause is an operator's pause of a location: nothing calls HighLevel for
// it and its work waits, kept in its streams, until Resume.
type Pause struct {
	Since time.Time `json:"since"`
	// By says who paused it: an API key id, "operator" or a name.
	By string `json:"by,omitempty"`
}

// Hold says why a location's work is held back: an operator paused it,
// or it needs re-authorisation (an automatic pause that ends when it is
// connected again).
type Hold struct {
	// Reason is "paused" or "needs_reauth".
	Reason string
	Since  time.Time
	// By is who paused it (empty for needs_reauth).
	By string
}

// Hold reasons.
const (
	HoldPaused      = "paused"
	HoldNeedsReauth = "needs_reauth"
)

// Held returns why l's work is held back, if it is: an operator's pause
// wins over a needed re-authorisation.
func (l Location) Held() (Hold, bool) {
	switch {
	case l.Paused != nil:
		return Hold{Reason: HoldPaused, Since: l.Paused.Since, By: l.Paused.By}, true
	case l.State == StateNeedsReauth:
		return Hold{Reason: HoldNeedsReauth, Since: l.StateSince}, true
	}
	return Hold{}, false
}

// HeldError is the error of a message for a held location: it is
// deferred (DeferFor), never failed nor dead-lettered, and its handler
// does not run, so nothing calls HighLevel for the location.
type HeldError struct {
	Location string
	Hold     Hold
	// Wait is how long the message waits before it is looked at again.
	Wait time.Duration
}

// Error names the location and why its work waits.
func (e *HeldError) Error() string {
	what := "is paused"
	if e.Hold.Reason == HoldNeedsReauth {
		what = "needs re-authorisation"
	}
	return fmt.Sprintf("creds: location %s %s (since %s): its work waits", e.Location, what, e.Hold.Since.UTC().Format(time.RFC3339))
}

// DeferFor makes the bus hand the message back for Wait: waiting for a
// location is never a failure.
func (e *HeldError) DeferFor() time.Duration { return e.Wait }

// Pause pauses location loc on behalf of by. It reports whether the
// location was running before (false: it was paused already, and keeps
// its first pause).
func (d *Directory) Pause(ctx context.Context, loc, by string) (bool, error) {
	now := d.now().UTC()
	_, changed, err := d.updateLocation(ctx, loc, func(l *Location) bool {
		if l.Paused != nil {
			return false
		}
		l.Paused = &Pause{Since: now, By: by}
		return true
	})
	return changed, err
}

// Removal is the removal asked for a location (Location.Removing).
type Removal struct {
	Since time.Time `json:"since"`
	// By says who asked: an API key id, "operator" or a name.
	By string `json:"by,omitempty"`
	// Purge and PurgeData are its options: what socialsync applied in
	// HighLevel purged first; the statistics history and reports deleted
	// too.
	Purge     bool `json:"purge,omitempty"`
	PurgeData bool `json:"purgeData,omitempty"`
}

// MarkRemoving records that loc's removal was asked for by by with the
// options of r, and pauses it (nothing of the workers runs for it while
// it is removed). A removal asked for already stays as it was: it
// returns that one and false.
func (d *Directory) MarkRemoving(ctx context.Context, loc string, r Removal) (Removal, bool, error) {
	now := d.now().UTC()
	out := r
	_, changed, err := d.updateLocation(ctx, loc, func(l *Location) bool {
		if l.Removing != nil {
			out = *l.Removing
			return false
		}
		out = r
		out.Since = now
		l.Removing = &out
		if l.Paused == nil {
			l.Paused = &Pause{Since: now, By: r.By}
		}
		return true
	})
	return out, changed, err
}

// Resume ends loc's pause. It reports whether the location was paused.
// A location that needs re-authorisation stays held until it is
// connected again; one being removed stays paused (ErrRemoving).
func (d *Directory) Resume(ctx context.Context, loc string) (bool, error) {
	removing := false
	_, changed, err := d.updateLocation(ctx, loc, func(l *Location) bool {
		if l.Removing != nil {
			removing = true
			return false
		}
		if l.Paused == nil {
			return false
		}
		l.Paused = nil
		return true
	})
	if err == nil && removing {
		return false, fmt.Errorf("%w: %s (its removal runs; it cannot be resumed)", ErrRemoving, loc)
	}
	return changed, err
}

// Remove deletes location loc: its record first, so that every process
// stops taking its messages (they become bad input: not registered) and
// the statistics schedule goes, then its sealed tokens. Removing a
// location that is not registered deletes what is left of it.
func (s *Store) Remove(ctx context.Context, loc string) error {
	if !ids.ValidHighLevel(loc) {
		return fmt.Errorf("%w: %q", ErrInvalidLocation, loc)
	}
	if err := s.locations.Delete(ctx, loc); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("remove location %s: %w", loc, err)
	}
	if err := s.tokens.Purge(ctx, loc); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("remove token of %s: %w", loc, err)
	}
	return nil
}
