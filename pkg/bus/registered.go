package bus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultRegisteredTTL is how long Registered trusts a "registered"
// answer of its Registry.
const DefaultRegisteredTTL = 2 * time.Second

// Registry tells whether a location is registered. creds.Store implements
// it.
type Registry interface {
	Registered(ctx context.Context, location string) (bool, error)
}

// Registered returns the location check every route of a process runs:
// a message whose subject names a location that r does not know fails
// with ErrUnknownLocation (bad input: one dead letter from the family's
// owner, see ConsumerSpec.SilentBadInput) before the handler runs, so that
// nothing of the location is looked up, counted or cached. When r cannot
// answer, the message is retried. A subject of no family is left to the
// Consumer's own check.
//
// A "registered" answer is trusted for ttl (DefaultRegisteredTTL when
// zero; every message asks r when negative), so that a busy location costs
// one registry read per ttl rather than one per message. "Not registered"
// is never remembered: a location registered a moment ago is accepted on
// its first message. A location removed is still let through for up to
// ttl; its handler then finds no token or record for it, and fails as it
// would for a location removed while it ran.
func Registered(r Registry, ttl time.Duration) Middleware {
	switch {
	case ttl == 0:
		ttl = DefaultRegisteredTTL
	case ttl < 0:
		ttl = 0
	}
	return registeredWith(&registeredCache{r: r, ttl: ttl, known: map[string]time.Time{}, now: time.Now})
}

func registeredWith(c *registeredCache) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			_, loc, err := ParseSubject(msg.Subject())
			if err != nil {
				return next(ctx, msg) // the Consumer rejects it
			}
			known, err := c.registered(ctx, loc)
			if err != nil {
				return fmt.Errorf("check location %s is registered: %w", loc, err)
			}
			if !known {
				return fmt.Errorf("%w: %s (register it with socialsync locations add)", ErrUnknownLocation, loc)
			}
			return next(ctx, msg)
		}
	}
}

// registeredCache remembers, per location, until when a "registered"
// answer holds.
type registeredCache struct {
	r   Registry
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	known map[string]time.Time
}

func (c *registeredCache) registered(ctx context.Context, loc string) (bool, error) {
	now := c.now()
	c.mu.Lock()
	until, ok := c.known[loc]
	c.mu.Unlock()
	if ok && now.Before(until) {
		return true, nil
	}
	known, err := c.r.Registered(ctx, loc)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if known && c.ttl > 0 {
		c.known[loc] = now.Add(c.ttl)
	} else {
		// Only registered locations are kept, so the map is bounded by
		// the registry, whatever subjects arrive.
		delete(c.known, loc)
	}
	return known, nil
}
