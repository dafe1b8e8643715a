package ghl

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Retry defaults; see Options.
const (
	DefaultMaxRetries     = 4
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 30 * time.Second
	DefaultMaxRetryWait   = time.Minute
	DefaultAttemptTimeout = 30 * time.Second
)

// retryPolicy says which failures of a call may be retried by the client.
type retryPolicy int

const (
	// retryTransient retries every KindRetryable and KindRateLimited
	// failure. It is for reads and for writes that are idempotent by
	// nature: adding a tag a contact already has, or removing one it does
	// not have, leaves the same contact, so a retry after a 5xx or a
	// timeout whose request did reach HighLevel does no harm.
	retryTransient retryPolicy = iota
	// retryUnprocessed retries only failures where HighLevel cannot have
	// processed the request: a 429, or a connection that was never made.
	// It is for writes that create something (a location tag, a custom
	// value) and for single-use OAuth grants, where a blind retry after a
	// 5xx could create a duplicate or burn a code. The caller gets the
	// KindRetryable error and decides (typically: list, then create).
	retryUnprocessed
)

type retryConfig struct {
	maxRetries     int
	initialBackoff time.Duration
	maxBackoff     time.Duration
	maxWait        time.Duration
	attemptTimeout time.Duration
}

func newRetryConfig(o Options) retryConfig {
	rc := retryConfig{
		maxRetries:     o.MaxRetries,
		initialBackoff: o.InitialBackoff,
		maxBackoff:     o.MaxBackoff,
		maxWait:        o.MaxRetryWait,
		attemptTimeout: o.AttemptTimeout,
	}
	switch {
	case rc.maxRetries == 0:
		rc.maxRetries = DefaultMaxRetries
	case rc.maxRetries < 0:
		rc.maxRetries = 0
	}
	if rc.initialBackoff <= 0 {
		rc.initialBackoff = DefaultInitialBackoff
	}
	if rc.maxBackoff <= 0 {
		rc.maxBackoff = DefaultMaxBackoff
	}
	if rc.maxWait <= 0 {
		rc.maxWait = DefaultMaxRetryWait
	}
	switch {
	case rc.attemptTimeout == 0:
		rc.attemptTimeout = DefaultAttemptTimeout
	case rc.attemptTimeout < 0:
		rc.attemptTimeout = 0
	}
	return rc
}

// newBackOff returns the computed backoff for one logical call. Attempts
// are bounded by maxRetries and the caller's context, not by elapsed time.
func (rc retryConfig) newBackOff() *backoff.ExponentialBackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(rc.initialBackoff),
		backoff.WithMaxInterval(rc.maxBackoff),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
	b.Reset()
	return b
}

// retryable reports whether the client itself may retry e under policy.
func retryable(e *Error, policy retryPolicy) bool {
	var te *tokenError
	if errors.As(e.Err, &te) {
		return false
	}
	switch e.Kind {
	case KindRateLimited:
		return true
	case KindRetryable:
		return policy == retryTransient || notSent(e.Err)
	}
	return false
}

// nextWait picks the wait before the next attempt: Retry-After when the
// server sent one, the computed backoff otherwise.
func nextWait(e *Error, b backoff.BackOff) time.Duration {
	if e.RetryAfter > 0 {
		return e.RetryAfter
	}
	d := b.NextBackOff()
	if d == backoff.Stop {
		return 0
	}
	return d
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transient reports whether a transport error is worth retrying: timeouts,
// resets, refused connections, a connection closed mid-response.
func transient(err error) bool {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), // the per-attempt timeout
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne) && ne.Timeout(),
		errors.As(err, &oe):
		return true
	}
	return false
}

// notSent reports whether a transport error happened before the request
// could reach the server (dial failures).
func notSent(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}
