package bus_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

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
	wantBusy(t, "locking a busy contact", err)
	// Nothing of the refused attempt stays locked; the busy stripes free
	// up with unlock.
	unlock()
	wantFree(t, "after unlock", s.Lock, "M.c9", "L.c2", "L.c1")
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
	first, err := s.Share(ctx, []string{"L.c1", "L.c2"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Share(ctx, []string{"L.c2", "L.c3"})
	if err != nil {
		t.Fatalf("sharing a shared contact: %v", err)
	}
	_, err = s.Lock(ctx, []string{"L.c3"})
	wantBusy(t, "locking a shared contact", err)
	// The refused Lock took none of its stripes: L.c4 stays free, and
	// L.c1, shared by first only, is free once first unlocks.
	wantFree(t, "a free contact after a refused lock", s.Lock, "L.c4")
	first()
	wantFree(t, "after its only sharer unlocked", s.Lock, "L.c1")
	_, err = s.Lock(ctx, []string{"L.c1", "L.c2"})
	wantBusy(t, "locking a contact still shared by another", err)

	second()
	// A Lock waiting for the last sharer gets the stripe when it leaves
	// (on stripes nobody waited for before).
	fresh := bus.NewStripes()
	sharer, err := fresh.Share(ctx, []string{"L.c2"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	waiting := make(chan func(), 1)
	go func() {
		u, err := fresh.Lock(ctx, []string{"L.c2"})
		got <- err
		waiting <- u
	}()
	for deadline := time.Now().Add(30 * time.Second); !fresh.Waited("L.c2"); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("the Lock never waited for the shared stripe")
		}
	}
	sharer()
	if err := <-got; err != nil {
		t.Fatalf("Lock waiting while the last sharer unlocked: %v", err)
	}
	alone := <-waiting
	_, err = fresh.Share(ctx, []string{"L.c2"})
	wantBusy(t, "sharing a contact held alone", err)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fresh.Share(ended, []string{"L.c2"}); !errors.Is(err, context.Canceled) {
		t.Errorf("with an ended context: %v", err)
	}
	alone()
	wantFree(t, "after every holder unlocked", fresh.Share, "L.c2", "L.c1")
	wantFree(t, "after every holder unlocked", s.Share, "L.c2", "L.c1", "L.c3")
}

// wantBusy fails unless err is the deferral of busy stripes.
func wantBusy(t *testing.T, what string, err error) {
	t.Helper()
	if class, after := bus.Classify(err); class != bus.ClassDeferred || after != bus.BusyDeferral || !errors.Is(err, bus.ErrBusy) {
		t.Fatalf("%s: %v (class %v, after %v), want a deferral of %v", what, err, class, after, bus.BusyDeferral)
	}
}

// wantFree fails unless lock takes keys at once, twice in a row (the
// first unlock leaves nothing held).
func wantFree(t *testing.T, what string, lock func(context.Context, []string) (func(), error), keys ...string) {
	t.Helper()
	for range 2 {
		u, err := lock(context.Background(), keys)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		u()
	}
}
