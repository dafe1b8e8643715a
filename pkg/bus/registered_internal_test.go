package bus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// subjectMsg is a message that has only a subject.
type subjectMsg struct {
	jetstream.Msg
	subject string
}

func (m subjectMsg) Subject() string { return m.subject }

// countingRegistry knows the locations in known and counts its reads.
type countingRegistry struct {
	known map[string]bool
	reads int
}

func (r *countingRegistry) Registered(_ context.Context, loc string) (bool, error) {
	r.reads++
	return r.known[loc], nil
}

// A "registered" answer is read once per TTL; "not registered" is read
// every time, so that a location registered after a refusal is accepted
// on its next message.
func TestRegisteredCachesOnlyRegistered(t *testing.T) {
	reg := &countingRegistry{known: map[string]bool{"loc1": true}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cache := &registeredCache{r: reg, ttl: time.Second, known: map[string]time.Time{}, now: func() time.Time { return now }}
	var handled int
	h := registeredWith(cache)(func(context.Context, jetstream.Msg) error { handled++; return nil })

	call := func(loc string) error {
		return h(context.Background(), subjectMsg{subject: "socialsync.trigger.post." + loc})
	}
	for range 3 {
		if err := call("loc1"); err != nil {
			t.Fatalf("registered location refused: %v", err)
		}
	}
	if reg.reads != 1 {
		t.Errorf("%d registry reads for three messages within the TTL, want 1", reg.reads)
	}
	now = now.Add(time.Second)
	if err := call("loc1"); err != nil || reg.reads != 2 {
		t.Errorf("after the TTL: err %v, %d reads; want nil and a second read", err, reg.reads)
	}

	if err := call("new1"); !errors.Is(err, ErrUnknownLocation) {
		t.Errorf("unregistered location: %v, want ErrUnknownLocation", err)
	}
	reg.known["new1"] = true
	if err := call("new1"); err != nil {
		t.Errorf("location registered after a refusal still refused: %v", err)
	}
	if handled != 5 {
		t.Errorf("handler ran %d times, want 5", handled)
	}
	// A subject of no family is the Consumer's to reject.
	if err := h(context.Background(), subjectMsg{subject: "elsewhere"}); err != nil {
		t.Errorf("subject of no family: %v, want it passed on", err)
	}
}

// failingRegistry cannot answer.
type failingRegistry struct{ err error }

func (r failingRegistry) Registered(context.Context, string) (bool, error) { return false, r.err }

// A registry that cannot answer fails the message with its error (to be
// retried), not as an unknown location, and the handler does not run.
func TestRegisteredRegistryDown(t *testing.T) {
	down := errors.New("locations bucket unavailable")
	ran := false
	h := Registered(failingRegistry{down}, 0)(func(context.Context, jetstream.Msg) error { ran = true; return nil })
	err := h(context.Background(), subjectMsg{subject: "socialsync.trigger.post.loc1"})
	if !errors.Is(err, down) || errors.Is(err, ErrUnknownLocation) || ran {
		t.Errorf("err %v, handler ran %v; want the registry's error and no run", err, ran)
	}
}
