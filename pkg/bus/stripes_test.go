package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
)

// A handler waits for busy contacts only briefly, then its message is
// deferred: handlers queued behind one that waits for a rate permit would
// take the handler slots other locations need.
func TestStripesDeferBusyContacts(t *testing.T) {
	s := bus.NewStripes()
	ctx := context.Background()
	unlock, err := s.Lock(ctx, []string{"L.c1", "L.c2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock(ctx, []string{"L.c2", "M.c9"})
	if class, after := bus.Classify(err); class != bus.ClassDeferred || after != bus.BusyDeferral || !errors.Is(err, bus.ErrBusy) {
		t.Fatalf("locking a busy contact: %v (class %v, after %v), want a deferral of %v", err, class, after, bus.BusyDeferral)
	}
	// Nothing of the refused attempt stays locked; the busy stripes free
	// up with unlock.
	unlock()
	for range 2 {
		u, err := s.Lock(ctx, []string{"M.c9", "L.c2", "L.c1"})
		if err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		u()
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	hold, _ := s.Lock(ctx, []string{"L.c1"})
	defer hold()
	if _, err := s.Lock(ended, []string{"L.c1"}); !errors.Is(err, context.Canceled) {
		t.Errorf("with an ended context: %v", err)
	}
}
