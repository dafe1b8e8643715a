package bus_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	transient := errors.New("connection reset")
	tests := []struct {
		name     string
		err      error
		attempt  int
		age      time.Duration
		want     bus.Decision
		delayMin time.Duration
		delayMax time.Duration
	}{
		{name: "success", err: nil, attempt: 1, want: bus.Decision{Action: bus.ActionAck, Class: bus.ClassNone}},
		{name: "transient first", err: transient, attempt: 1, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 800 * time.Millisecond, delayMax: 1200 * time.Millisecond},
		{name: "transient third", err: transient, attempt: 3, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 3200 * time.Millisecond, delayMax: 4800 * time.Millisecond},
		{name: "transient capped", err: transient, attempt: 30, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 4 * time.Minute, delayMax: 5 * time.Minute},
		{name: "transient at the horizon", err: transient, attempt: 5, age: 24 * time.Hour, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassRetryHorizon}},
		{name: "transient never retried past the horizon", err: transient, attempt: 30, age: 24*time.Hour - 10*time.Second, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 10 * time.Second, delayMax: 10 * time.Second},
		{name: "transient delivered many times before the horizon", err: transient, attempt: 1000, age: time.Hour, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 4 * time.Minute, delayMax: 5 * time.Minute},
		{name: "retry after wins", err: bus.RetryAfter(transient, 42*time.Second), attempt: 1, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 42 * time.Second, delayMax: 42 * time.Second},
		{name: "429", err: &ghl.Error{Kind: ghl.KindRateLimited, RetryAfter: 9 * time.Second}, attempt: 2, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRateLimited}, delayMin: 9 * time.Second, delayMax: 9 * time.Second},
		{name: "429 past the horizon", err: &ghl.Error{Kind: ghl.KindRateLimited, RetryAfter: 9 * time.Second}, attempt: 5, age: 25 * time.Hour, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassRetryHorizon}},
		{name: "huge retry after capped", err: bus.RetryAfter(transient, 1000*time.Hour), attempt: 1, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassRetryable}, delayMin: 24 * time.Hour, delayMax: 24 * time.Hour},
		{name: "permanent", err: bus.Permanent(transient), attempt: 1, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassPermanent}},
		{name: "bad input", err: bus.ErrUndecodable, attempt: 1, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassBadInput}},
		{name: "auth waits", err: &ghl.Error{Kind: ghl.KindAuth}, attempt: 1, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassAuth}, delayMin: bus.AuthWait, delayMax: bus.AuthWait},
		{name: "auth waits past the horizon", err: &ghl.Error{Kind: ghl.KindAuth}, attempt: 900, age: 100 * time.Hour, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassAuth}, delayMin: bus.AuthWait, delayMax: bus.AuthWait},
		{name: "panic", err: &bus.PanicError{Value: "x"}, attempt: 1, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassPanic}},
		{name: "deferred", err: bus.Defer(transient, 700*time.Millisecond), attempt: 1, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassDeferred}, delayMin: 700 * time.Millisecond, delayMax: 700 * time.Millisecond},
		{name: "deferred past the horizon is no failure", err: bus.Defer(transient, time.Second), attempt: 50, age: 1000 * time.Hour, want: bus.Decision{Action: bus.ActionNak, Class: bus.ClassDeferred}, delayMin: time.Second, delayMax: time.Second},
		{name: "crash loop", err: bus.ErrCrashLoop, attempt: 4, want: bus.Decision{Action: bus.ActionTerm, Class: bus.ClassCrashLoop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := bus.Decide(tt.err, tt.attempt, tt.age, 24*time.Hour, bus.Backoff{})
			delay := got.Delay
			got.Delay = 0
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decide (-want +got):\n%s", diff)
			}
			if delay < tt.delayMin || delay > tt.delayMax {
				t.Errorf("delay = %v, want in [%v, %v]", delay, tt.delayMin, tt.delayMax)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := bus.Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	for attempt, base := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 50 {
			d := b.Delay(attempt)
			if d < base*8/10 || d > min(base*12/10, time.Second) {
				t.Fatalf("Delay(%d) = %v, want within ±20%% of %v and at most 1s", attempt, d, base)
			}
		}
	}
}
