package ghl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"golang.org/x/oauth2"
)

// sendExchange makes one attempt of r through the oauth2 package, which
// finds c's own http.Client in the context: c's transport, with the
// headers every request of c carries and the trace context. It fills info
// and returns the failure as an *Error like send's; on success the token
// goes into out, a *Token.
func (c *Client) sendExchange(ctx context.Context, r *request, out any, info *ResponseInfo) *Error {
	rt := &exchangeTransport{c: c}
	hc := *c.hc
	hc.Transport = rt
	start := time.Now()
	tok, err := r.exchange(context.WithValue(ctx, oauth2.HTTPClient, &hc))
	info.Duration = time.Since(start)
	status, header, readErr := rt.answer()
	info.StatusCode = status
	info.RateLimit, _ = ParseRateLimit(header)
	c.limits.put(r.resource(), info.RateLimit)
	c.metrics.sent(r, info)
	if err == nil {
		if t, ok := out.(*Token); ok {
			*t = tokenFromOAuth2(tok)
		}
		return nil
	}
	e := &Error{StatusCode: status, RateLimit: info.RateLimit}
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.Response != nil:
		// Not re itself as the cause: its text quotes the body.
		e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
		if eb, err := DecodeErrorBody(re.Body); err == nil {
			e.Messages, e.Code, e.TraceID = eb.Text(), eb.Code(), eb.TraceID
		} else if len(bytes.TrimSpace(re.Body)) > 0 {
			e.Messages = []string{textSnippet(re.Body, r.secrets)}
		}
		e.Kind = classify(re.Response.StatusCode, e.Code)
	case status == 0:
		e.Kind, e.Err = transportError(err)
	case readErr != nil:
		// oauth2 formats a failed read of the answer with %v: the cause
		// comes from the transport, which saw it.
		e.Kind, e.Err = transportError(readErr)
	default:
		// A 2xx without a usable token ("server response missing
		// access_token", a body that is no JSON).
		e.Err = fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
	}
	return e
}

// exchangeTransport sends the oauth2 package's requests with c's
// transport, adding c's headers and the trace context, and remembers the
// answer's status and headers and any error reading its body.
type exchangeTransport struct {
	c *Client

	mu      sync.Mutex
	status  int
	header  http.Header
	readErr error
}

func (t *exchangeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", t.c.ua)
	t.c.prop.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
	base := t.c.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.status, t.header = resp.StatusCode, resp.Header
	t.mu.Unlock()
	resp.Body = &watchedBody{ReadCloser: resp.Body, t: t}
	return resp, nil
}

func (t *exchangeTransport) answer() (int, http.Header, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status, t.header, t.readErr
}

// watchedBody notes an error reading an answer's body, other than its end.
type watchedBody struct {
	io.ReadCloser
	t *exchangeTransport
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		b.t.mu.Lock()
		b.t.readErr = err
		b.t.mu.Unlock()
	}
	return n, err
}

// tokenFromOAuth2 reads HighLevel's answer from t: the standard fields,
// and HighLevel's own (userType, locationId, companyId…) from t.Extra.
func tokenFromOAuth2(t *oauth2.Token) Token {
	str := func(k string) string { s, _ := t.Extra(k).(string); return s }
	flag := func(k string) bool { b, _ := t.Extra(k).(bool); return b }
	out := Token{
		AccessToken:              t.AccessToken,
		TokenType:                t.TokenType,
		ExpiresIn:                int(t.ExpiresIn),
		RefreshToken:             t.RefreshToken,
		Scope:                    str("scope"),
		UserType:                 str("userType"),
		LocationID:               str("locationId"),
		CompanyID:                str("companyId"),
		UserID:                   str("userId"),
		PlanID:                   str("planId"),
		IsBulkInstallation:       flag("isBulkInstallation"),
		AppID:                    str("appId"),
		VersionID:                str("versionId"),
		InstallToFutureLocations: flag("installToFutureLocations"),
		ApproveAllLocations:      flag("approveAllLocations"),
	}
	if ls, ok := t.Extra("approvedLocations").([]any); ok {
		for _, l := range ls {
			if s, ok := l.(string); ok {
				out.ApprovedLocations = append(out.ApprovedLocations, s)
			}
		}
	}
	return out
}
