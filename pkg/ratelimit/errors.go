package ratelimit

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidKey is returned for a location or company id that cannot name
// a budget: one that ghl.ValidID refuses.
var ErrInvalidKey = errors.New("ratelimit: invalid location id")

// ErrPaced matches, with errors.Is, every *PacedError.
var ErrPaced = errors.New("ratelimit: paced")

// PacedError is Acquire's answer when the location's next permit is more
// than MaxWait away: the caller should do this work later, after Wait, and
// meanwhile do other work. A message handler that returns it (wrapped or
// not) has its message handed back to JetStream for Wait: bus.Classify
// sees DeferFor.
type PacedError struct {
	// Loc is the location id (or company id) whose budget is spent.
	Loc string
	// Wait is when to try again: when a permit should be free, spread
	// so that deferred callers do not all come back at once.
	Wait time.Duration
}

// Error says which location is paced and for how long.
func (e *PacedError) Error() string {
	return fmt.Sprintf("ratelimit: location %s paced for %v", e.Loc, e.Wait.Round(time.Millisecond))
}

// DeferFor returns Wait: the delay after which a deferred message should
// come back.
func (e *PacedError) DeferFor() time.Duration { return e.Wait }

// Is makes errors.Is(err, ErrPaced) true.
func (e *PacedError) Is(target error) bool { return target == ErrPaced }
