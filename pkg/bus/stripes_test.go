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

// Sharers hold a stripe together; Lock waits for the last of them, and
// sharers wait for a Lock, each deferred past StripeWait. A waiter gets
// the stripe as soon as it frees up.
func TestStripesShare(t *testing.T) {
	s := bus.NewStripes(bus.StripeCount(4096))
	ctx := context.Background()
	busy := func(what string, err error) {
		t.Helper()
		if class, after := bus.Classify(err); class != bus.ClassDeferred || after != bus.BusyDeferral || !errors.Is(err, bus.ErrBusy) {
			t.Fatalf("%s: %v (class %v, after %v), want a deferral of %v", what, err, class, after, bus.BusyDeferral)
		}
	}
	first, err := s.Share(ctx, []string{"L.c1", "L.c2"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Share(ctx, []string{"L.c2", "L.c3"})
	if err != nil {
		t.Fatalf("sharing a shared contact: %v", err)
	}
	_, err = s.Lock(ctx, []string{"L.c3"})
	busy("locking a shared contact", err)
	// The refused Lock took none of its stripes: L.c4 stays free, and
	// L.c1, shared by first only, is free once first unlocks.
	u, err := s.Lock(ctx, []string{"L.c4"})
	if err != nil {
		t.Fatalf("a free contact after a refused lock: %v", err)
	}
	u()
	first()
	u, err = s.Lock(ctx, []string{"L.c1"})
	if err != nil {
		t.Fatalf("after its only sharer unlocked: %v", err)
	}
	u()
	_, err = s.Lock(ctx, []string{"L.c1", "L.c2"})
	busy("locking a contact still shared by another", err)

	// A Lock waiting for the last sharer gets the stripe when it leaves.
	got := make(chan error, 1)
	waiting := make(chan func(), 1)
	go func() {
		u, err := s.Lock(ctx, []string{"L.c2"})
		got <- err
		waiting <- u
	}()
	second()
	if err := <-got; err != nil {
		t.Fatalf("Lock waiting while the last sharer unlocked: %v", err)
	}
	alone := <-waiting
	_, err = s.Share(ctx, []string{"L.c2"})
	busy("sharing a contact held alone", err)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Share(ended, []string{"L.c2"}); !errors.Is(err, context.Canceled) {
		t.Errorf("with an ended context: %v", err)
	}
	alone()
	for range 2 {
		u, err := s.Share(ctx, []string{"L.c2", "L.c1", "L.c3"})
		if err != nil {
			t.Fatalf("after every holder unlocked: %v", err)
		}
		u()
	}
}
