package bus_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
)

// goneErr is what a package that knows a location is gone on purpose
// (creds: uninstalled) returns, without importing bus.
type goneErr struct{}

func (goneErr) Error() string { return "uninstalled" }
func (goneErr) Dropped() bool { return true }

// A message for something gone on purpose is acked unhandled and counted
// as dropped, whatever its attempt or age: never retried, never a dead
// letter.
func TestDroppedIsAckedAndCounted(t *testing.T) {
	err := fmt.Errorf("check location L is registered: %w", goneErr{})
	if c, _ := bus.Classify(err); c != bus.ClassDropped {
		t.Fatalf("Classify = %s, want dropped", c)
	}
	// Bad input still wins: a message that is wrong is reported as such.
	if c, _ := bus.Classify(errors.Join(err, bus.ErrUndecodable)); c != bus.ClassBadInput {
		t.Fatalf("bad input beside dropped: %s", c)
	}
	for _, age := range []time.Duration{0, 48 * time.Hour} {
		d := bus.Decide(err, 7, age, 24*time.Hour, bus.Backoff{})
		if d.Action != bus.ActionAck || d.Class != bus.ClassDropped {
			t.Fatalf("Decide at age %s = %+v, want ack, dropped", age, d)
		}
		if got := (bus.Outcome{Decision: d}).OutcomeLabel(); got != bus.OutcomeDropped {
			t.Fatalf("outcome label %q, want %q", got, bus.OutcomeDropped)
		}
	}
}
