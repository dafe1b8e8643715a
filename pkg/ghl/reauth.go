package ghl

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/trace"
)

// Invalidator is implemented by a TokenSource that can replace a token
// HighLevel rejected (creds.Store's TokenSource does).
type Invalidator interface {
	// Invalidate reports that HighLevel answered 401 to token. The source
	// should hand out another token on its next Token call, refreshing if
	// need be; it may keep a token it has just obtained, for a 401 to a
	// fresh token is about something else (a missing scope).
	Invalidate(token string)
}

// reauth decides, after attempt e failed, whether to retry at once with a
// replaced token: for a 401 to a call with a bearer token whose
// TokenSource is an Invalidator, unless the attempt before (prev) was a
// 401 too. So a 401 costs one refresh and one retry, never a loop; the
// retry goes through the loop's limiter like any attempt, but waits no
// backoff and is not counted against MaxRetries.
//
// bearer is the token the failed attempt carried: if another process
// replaced it in between, the source keeps the new one.
func (c *Client) reauth(ctx context.Context, r *request, bearer string, e, prev *Error) bool {
	if r.oauthToken || bearer == "" || e.StatusCode != http.StatusUnauthorized || (prev != nil && prev.StatusCode == http.StatusUnauthorized) {
		return false
	}
	inv, ok := c.ts.(Invalidator)
	if !ok {
		return false
	}
	inv.Invalidate(bearer)
	trace.SpanFromContext(ctx).AddEvent("ghl.reauth")
	return true
}
