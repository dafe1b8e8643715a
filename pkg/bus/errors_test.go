package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	rateLimited := &ghl.Error{Method: "GET", Path: "/x", StatusCode: 429, Kind: ghl.KindRateLimited, RetryAfter: 7 * time.Second}
	paced := &ratelimit.PacedError{Loc: "loc1", Wait: 3 * time.Second}
	tests := []struct {
		name      string
		err       error
		wantClass bus.Class
		wantDelay time.Duration
	}{
		{"nil", nil, bus.ClassNone, 0},
		{"plain", io.ErrUnexpectedEOF, bus.ClassRetryable, 0},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), bus.ClassRetryable, 0},
		{"permanent", bus.Permanent(errors.New("no such post")), bus.ClassPermanent, 0},
		{"wrapped permanent", fmt.Errorf("handle: %w", bus.Permanent(io.EOF)), bus.ClassPermanent, 0},
		{"retry after", bus.RetryAfter(io.EOF, 3*time.Second), bus.ClassRetryable, 3 * time.Second},
		{"retry after beats permanent inside", bus.RetryAfter(bus.Permanent(io.EOF), time.Second), bus.ClassRetryable, time.Second},
		{"bad input beats retry after", bus.RetryAfter(fmt.Errorf("%w: x", bus.ErrUndecodable), time.Second), bus.ClassBadInput, 0},
		{"undecodable", fmt.Errorf("%w: x", bus.ErrUndecodable), bus.ClassBadInput, 0},
		{"too large", bus.ErrTooLarge, bus.ClassBadInput, 0},
		{"mismatch", bus.ErrLocationMismatch, bus.ClassBadInput, 0},
		{"panic", &bus.PanicError{Value: "boom"}, bus.ClassPanic, 0},
		{"crash loop", fmt.Errorf("stats: %w", bus.ErrCrashLoop), bus.ClassCrashLoop, 0},
		{"ghl 429", fmt.Errorf("list tags: %w", rateLimited), bus.ClassRateLimited, 7 * time.Second},
		{"ghl 429 without retry-after", &ghl.Error{Kind: ghl.KindRateLimited, RateLimit: ghl.RateLimit{Interval: 10 * time.Second}}, bus.ClassRateLimited, 10 * time.Second},
		{"ghl 429 with our retry after", bus.RetryAfter(rateLimited, time.Minute), bus.ClassRateLimited, time.Minute},
		{"ghl 503", &ghl.Error{StatusCode: 503, Kind: ghl.KindRetryable}, bus.ClassRetryable, 0},
		{"ghl 401", &ghl.Error{StatusCode: 401, Kind: ghl.KindAuth}, bus.ClassAuth, 0},
		{"ghl 422", &ghl.Error{StatusCode: 422, Kind: ghl.KindPermanent}, bus.ClassPermanent, 0},
		{"ghl invalid argument", fmt.Errorf("%w: empty id", ghl.ErrInvalidArgument), bus.ClassPermanent, 0},
		{"permanent ghl 503", bus.Permanent(&ghl.Error{StatusCode: 503, Kind: ghl.KindRetryable}), bus.ClassPermanent, 0},
		{"paced", paced, bus.ClassDeferred, 3 * time.Second},
		{"paced retry after a 429, as the ghl client wraps it", fmt.Errorf("tags of post p1: %w",
			fmt.Errorf("ghl: GET /x: %w; last attempt: %w", paced, rateLimited)), bus.ClassDeferred, 3 * time.Second},
		{"paced for a day", &ratelimit.PacedError{Loc: "loc1", Wait: 40 * time.Hour}, bus.ClassDeferred, 24 * time.Hour},
		{"bad input beats paced", fmt.Errorf("%w: %w", bus.ErrUndecodable, paced), bus.ClassBadInput, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, delay := bus.Classify(tt.err)
			if class != tt.wantClass || delay != tt.wantDelay {
				t.Errorf("Classify(%v) = %v, %v; want %v, %v", tt.err, class, delay, tt.wantClass, tt.wantDelay)
			}
		})
	}
}

func TestErrorMarkers(t *testing.T) {
	t.Parallel()
	if bus.Permanent(nil) != nil || bus.RetryAfter(nil, time.Second) != nil {
		t.Error("Permanent(nil) or RetryAfter(nil) is not nil")
	}
	cause := errors.New("cause")
	for _, err := range []error{bus.Permanent(cause), bus.RetryAfter(cause, time.Second)} {
		if !errors.Is(err, cause) || err.Error() != "cause" {
			t.Errorf("%#v does not wrap its cause transparently", err)
		}
	}
	for _, err := range []error{bus.ErrTooLarge, bus.ErrUndecodable, bus.ErrUnknownSubject, bus.ErrInvalidLocation, bus.ErrLocationMismatch} {
		if class, _ := bus.Classify(err); !errors.Is(err, bus.ErrBadInput) || class != bus.ClassBadInput {
			t.Errorf("%v is not bad input", err)
		}
	}
	if !errors.Is(&bus.PanicError{Value: 1}, bus.ErrPanic) {
		t.Error("PanicError is not ErrPanic")
	}
}

// Errors of packages that know nothing of the bus, answering the questions
// it asks of an error.
type (
	permanentErr    bool
	retryAfterErr   time.Duration
	rateLimitedErr  time.Duration
	unauthorizedErr bool
)

func (permanentErr) Error() string     { return "permanent?" }
func (e permanentErr) Permanent() bool { return bool(e) }
func (retryAfterErr) Error() string    { return "retry after" }
func (e retryAfterErr) RetryAfter() time.Duration {
	return time.Duration(e)
}
func (rateLimitedErr) Error() string { return "rate limited" }
func (e rateLimitedErr) RateLimited() (time.Duration, bool) {
	return time.Duration(e), true
}
func (unauthorizedErr) Error() string        { return "unauthorized?" }
func (e unauthorizedErr) Unauthorized() bool { return bool(e) }

// TestClassifyAsksTheError checks that the bus settles by what an error
// says of itself, through methods, not by knowing its type.
func TestClassifyAsksTheError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		wantClass bus.Class
		wantDelay time.Duration
	}{
		{"permanent", fmt.Errorf("write: %w", permanentErr(true)), bus.ClassPermanent, 0},
		{"not permanent", permanentErr(false), bus.ClassRetryable, 0},
		{"permanent in a join", errors.Join(io.EOF, permanentErr(true)), bus.ClassPermanent, 0},
		{"retry after", retryAfterErr(2 * time.Second), bus.ClassRetryable, 2 * time.Second},
		{"retry after beats permanent", errors.Join(permanentErr(true), retryAfterErr(time.Second)), bus.ClassRetryable, time.Second},
		{"retry after a rate limit", errors.Join(retryAfterErr(2*time.Second), rateLimitedErr(5*time.Second)), bus.ClassRateLimited, 2 * time.Second},
		{"rate limited", fmt.Errorf("call: %w", rateLimitedErr(5*time.Second)), bus.ClassRateLimited, 5 * time.Second},
		{"permanent beats rate limited", errors.Join(rateLimitedErr(time.Second), permanentErr(true)), bus.ClassPermanent, 0},
		{"unauthorized", fmt.Errorf("call: %w", unauthorizedErr(true)), bus.ClassAuth, 0},
		{"authorized", unauthorizedErr(false), bus.ClassRetryable, 0},
		{"deferred beats unauthorized", bus.Defer(unauthorizedErr(true), time.Minute), bus.ClassDeferred, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			class, delay := bus.Classify(tt.err)
			if class != tt.wantClass || delay != tt.wantDelay {
				t.Errorf("Classify(%v) = %v, %v; want %v, %v", tt.err, class, delay, tt.wantClass, tt.wantDelay)
			}
		})
	}
}
