package ghl

import (
	"context"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Limiter paces a Client's requests to HighLevel's per-resource budgets
// (100 requests per rolling 10 s and 200,000 a day for each location, and
// for each company), which every process calling for the resource shares.
// pkg/ratelimit's Governor is socialsync's, shared by the whole fleet.
//
// With a Limiter the client still retries a 429 in-process (within
// MaxRetries and MaxRetryWait), but it does not sleep first: the retry's
// Acquire waits out the pause that the 429's Release recorded, or refuses,
// so that the caller can do the work later. A Limiter that keeps the budget
// makes 429s rare; HighLevel remains the judge.
type Limiter interface {
	// Acquire returns a Release when one request for resource (a location
	// id, or a company id for agency calls) may be sent now. It is called
	// before every attempt, retries included, never for POST /oauth/token,
	// and after the attempt's bearer token is read, so that only the
	// request's own sending sits between the permit and HighLevel.
	// An error ends the call without sending: the client returns it
	// wrapped, with the last attempt's *Error when there was one, so that
	// errors.As finds the Limiter's own error type.
	Acquire(ctx context.Context, resource string) (Release, error)
}

// Release ends the permit Acquire handed out. The client calls it exactly
// once per admitted attempt, whatever happens to the attempt, as soon as
// it is over: with the response (its status, its X-RateLimit-* headers, a
// 429 and its Retry-After in Err), or with StatusCode 0 when none arrived
// (a transport error, a timeout, a context that ended before or during
// the send). It is called after OnResponse, from the goroutine of the
// call; it must be quick and, after a 429, make Acquire wait for the
// pause.
type Release func(ResponseInfo)

// acquire asks the Limiter for the permit of attempt. It returns the
// permit's Release (nil without a Limiter) or, on refusal, ends the call's
// span and returns the error to return from do.
func (c *Client) acquire(ctx context.Context, span trace.Span, r request, attempt int, last *Error) (Release, error) {
	res := r.resource()
	if c.limiter == nil || res == "" {
		return nil, nil
	}
	release, err := c.limiter.Acquire(ctx, res)
	if err == nil {
		if release == nil {
			release = func(ResponseInfo) {}
		}
		return release, nil
	}
	sent := attempt - 1
	span.SetAttributes(attribute.Int("ghl.retry_count", max(sent-1, 0)))
	c.spanRateLimit(span, r)
	if last != nil {
		last.Attempts = sent
	}
	errType := "limiter"
	switch {
	case ctx.Err() != nil:
		errType = "context"
		err = ctxError(r, ctx.Err(), last)
	case last != nil:
		err = fmt.Errorf("ghl: %s %s: %w; last attempt: %w", r.method, r.template, err, last)
	default:
		err = fmt.Errorf("ghl: %s %s: %w", r.method, r.template, err)
	}
	span.SetAttributes(attribute.String("error.type", errType))
	span.SetStatus(codes.Error, err.Error())
	return nil, err
}

// retryWait is the wait before retrying after e: none for a 429 when a
// Limiter paces the client, since the retry's Acquire waits for the pause.
func (c *Client) retryWait(e *Error, bo backoff.BackOff) time.Duration {
	if c.limiter != nil && e.Kind == KindRateLimited {
		return 0
	}
	return nextWait(e, bo)
}
