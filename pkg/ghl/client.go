package ghl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/oauth2"
)

const (
	// DefaultBaseURL is HighLevel's API v2 host.
	DefaultBaseURL = "https://services.leadconnectorhq.com"
	// APIVersion is the Version header every call but POST /oauth/token sends.
	APIVersion = "2021-07-28"
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "socialsync-ghl"

	instrumentationName = "github.com/socialsync/socialsync/pkg/ghl"
	maxResponseBytes    = 32 << 20
)

// Options configure a Client. The zero value of every field is a usable
// default.
type Options struct {
	// BaseURL defaults to DefaultBaseURL. A path prefix is kept.
	BaseURL string
	// HTTPClient defaults to a new http.Client with no overall timeout
	// (AttemptTimeout and the caller's context bound each request).
	HTTPClient *http.Client
	// TokenSource gives the bearer token of every call except POST
	// /oauth/token. It is asked once per attempt, so a refreshing source
	// may hand out a new token between retries. The client never refreshes
	// on its own; a source that implements Invalidator gets one chance to
	// replace a token HighLevel answered 401 to (see Invalidator). Any
	// other 401 is returned as KindAuth.
	TokenSource oauth2.TokenSource
	// TracerProvider defaults to otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator injects trace context into requests; defaults to
	// otel.GetTextMapPropagator().
	Propagator propagation.TextMapPropagator
	// MaxRetries is the number of retries after the first attempt:
	// 0 means DefaultMaxRetries, a negative value means none.
	MaxRetries int
	// InitialBackoff and MaxBackoff shape the exponential backoff between
	// retries (factor 2, jitter ±50%) when the response had no Retry-After.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxRetryWait is the longest the client waits in-process before a
	// retry (Retry-After included). A longer wanted wait, or one that
	// would outlast the context's deadline, ends the call with the
	// retryable error at once, so the caller can reschedule the work.
	MaxRetryWait time.Duration
	// AttemptTimeout bounds one request, body included: 0 means
	// DefaultAttemptTimeout, negative means only the context bounds it.
	AttemptTimeout time.Duration
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// OnResponse, when set, is called synchronously after every attempt,
	// failed ones included, with the rate limit the response reported. It
	// must be quick and safe for concurrent use.
	OnResponse func(ResponseInfo)
	// Limiter, when set, paces the calls made for a location (or, for
	// agency calls, a company): the client asks it for a permit before
	// every attempt, retries included, and releases the permit with the
	// attempt's outcome. See Limiter.
	Limiter Limiter
	// MeterProvider, when set, gets the client's metrics: every request
	// sent (MetricCalls), every 429 (MetricRateLimited) and the latest
	// X-RateLimit-Remaining of recently called locations
	// (MetricRateHeadroom). Nil records none.
	MeterProvider metric.MeterProvider
}

// ResponseInfo describes one attempt of one call, for OnResponse.
type ResponseInfo struct {
	// Location is the location the call was for ("" for company and
	// OAuth calls); Company is the company of agency calls.
	Location string
	Company  string
	// Method and Path name the operation; Path is the route template.
	Method string
	Path   string
	// StatusCode is 0 when no response arrived.
	StatusCode int
	// RateLimit is what this response's X-RateLimit-* headers said.
	RateLimit RateLimit
	// Duration is the time from sending the request to reading the body.
	Duration time.Duration
	// Attempt counts from 1.
	Attempt int
	// Lane is the call's lane (LaneOf its context).
	Lane Lane
	// Err is nil when the attempt succeeded.
	Err error
}

// Client calls HighLevel's API v2. It is safe for concurrent use.
type Client struct {
	base       string
	host       string
	port       int
	hc         *http.Client
	ts         oauth2.TokenSource
	tracer     trace.Tracer
	prop       propagation.TextMapPropagator
	ua         string
	onResponse func(ResponseInfo)
	limiter    Limiter
	retry      retryConfig
	limits     *limitStore
	metrics    *clientMetrics
	// location attributes calls whose route names no location (contact
	// tags, contact search) to a location; set by ForLocation.
	location string
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q", ErrInvalidArgument, base)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: base URL %q has a query or fragment", ErrInvalidArgument, base)
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = 443
		if u.Scheme == "http" {
			port = 80
		}
	}
	c := &Client{
		base:       strings.TrimSuffix(u.String(), "/"),
		host:       u.Hostname(),
		port:       port,
		hc:         opts.HTTPClient,
		ts:         opts.TokenSource,
		prop:       opts.Propagator,
		ua:         opts.UserAgent,
		onResponse: opts.OnResponse,
		limiter:    opts.Limiter,
		retry:      newRetryConfig(opts),
		limits:     &limitStore{},
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.metrics, err = newClientMetrics(opts.MeterProvider); err != nil {
		return nil, fmt.Errorf("ghl: metrics: %w", err)
	}
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	c.tracer = tp.Tracer(instrumentationName)
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	if c.ua == "" {
		c.ua = DefaultUserAgent
	}
	return c, nil
}

// ForLocation returns a view of c for one location: it takes its bearer
// token from ts (c's own TokenSource when ts is nil) and attributes calls
// whose route has no location (AddContactTags, RemoveContactTags) to loc
// in spans, OnResponse and LastRateLimit. The view shares c's transport
// and rate-limit memory.
func (c *Client) ForLocation(loc string, ts oauth2.TokenSource) *Client {
	v := *c
	v.location = loc
	if ts != nil {
		v.ts = ts
	}
	return &v
}

// LastRateLimit returns the rate limit of the latest response that carried
// X-RateLimit-* headers for resource: a location id, or a company id for
// agency calls.
func (c *Client) LastRateLimit(resource string) (RateLimit, bool) {
	return c.limits.get(resource)
}

// request describes one logical call.
type request struct {
	method string
	// template is the route as the OpenAPI file spells it; args fill its
	// {placeholders} in order.
	template string
	args     []string
	query    url.Values
	// location and company name the resource whose budget the call uses.
	location string
	company  string
	// body is JSON-encoded; form, when set, is sent url-encoded instead.
	body any
	form url.Values
	// oauthToken marks POST /oauth/token: no bearer, no Version header.
	oauthToken bool
	// exchange, when set, makes the request through the oauth2 package
	// instead (see sendExchange); the request's body is its own.
	exchange func(context.Context) (*oauth2.Token, error)
	policy   retryPolicy
	// secrets are redacted from error messages (form secrets the server
	// might echo); the bearer token always is.
	secrets []string
}

// path fills the template's placeholders with escaped args.
func (r *request) path() (string, error) {
	var b strings.Builder
	rest := r.template
	i := 0
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			b.WriteString(rest)
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: bad route %q", ErrInvalidArgument, r.template)
		}
		name := rest[open+1 : open+end]
		if i >= len(r.args) || r.args[i] == "" {
			return "", fmt.Errorf("%w: %s %s: empty %s", ErrInvalidArgument, r.method, r.template, name)
		}
		b.WriteString(rest[:open])
		b.WriteString(url.PathEscape(r.args[i]))
		i++
		rest = rest[open+end+1:]
	}
	return b.String(), nil
}

// encode returns the request body and its content type.
func (r *request) encode() ([]byte, string, error) {
	switch {
	case r.form != nil:
		return []byte(r.form.Encode()), "application/x-www-form-urlencoded", nil
	case r.body != nil:
		data, err := json.Marshal(r.body)
		if err != nil {
			return nil, "", fmt.Errorf("ghl: %s %s: encode body: %w", r.method, r.template, err)
		}
		return data, "application/json", nil
	}
	return nil, "", nil
}

// do runs one logical call: one span, up to 1+MaxRetries attempts, and
// decodes a 2xx body into out (when out is not nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	if r.location == "" && r.company == "" && !r.oauthToken {
		r.location = c.location
	}
	path, err := r.path()
	if err != nil {
		return err
	}
	target := c.base + path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	body, contentType, err := r.encode()
	if err != nil {
		return err
	}

	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", r.method),
		attribute.String("url.template", r.template),
		attribute.String("server.address", c.host),
		attribute.Int("server.port", c.port),
	}
	if r.location != "" {
		attrs = append(attrs, attribute.String("ghl.location_id", r.location))
	}
	if r.company != "" {
		attrs = append(attrs, attribute.String("ghl.company_id", r.company))
	}
	ctx, span := c.tracer.Start(ctx, "ghl "+r.method+" "+r.template,
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()

	bo := c.retry.newBackOff()
	var last *Error
	for attempt := 1; ; attempt++ {
		// The bearer first: reading it (or refreshing it) takes round
		// trips, while a permit must go to a request that leaves at once,
		// since HighLevel counts a request from when it arrives.
		bearer, terr := c.bearer(r)
		var release Release
		if terr == nil {
			var err error
			if release, err = c.acquire(ctx, span, r, attempt, last); err != nil {
				return err
			}
		}
		status, e := c.attempt(ctx, &r, bearer, terr, release, target, body, contentType, attempt, out)
		if status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		if e == nil {
			span.SetAttributes(attribute.Int("ghl.retry_count", attempt-1))
			c.spanRateLimit(span, r)
			return nil
		}
		if ctx.Err() != nil {
			return c.fail(span, r, attempt, ctxError(r, ctx.Err(), last))
		}
		if !r.oauthToken && scopeDenied(e) {
			// A refreshed token has the same scopes: no refresh, no retry.
			scope, _ := ScopeFor(r.method, r.template)
			_ = c.fail(span, r, attempt, e)
			return &ScopeError{Scope: scope, Err: e}
		}
		if c.reauth(ctx, &r, bearer, e, last) {
			last = e
			continue
		}
		last = e
		if attempt > c.retry.maxRetries || !retryable(e, r.policy) {
			return c.fail(span, r, attempt, e)
		}
		wait := c.retryWait(e, bo)
		if wait > c.retry.maxWait {
			return c.fail(span, r, attempt, e)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return c.fail(span, r, attempt, e)
		}
		span.AddEvent("ghl.retry", trace.WithAttributes(
			attribute.Int("ghl.attempt", attempt),
			attribute.Int("http.response.status_code", e.StatusCode),
			attribute.String("error.type", e.Kind.String()),
			attribute.Int64("ghl.retry_wait_ms", wait.Milliseconds()),
		))
		if err := sleep(ctx, wait); err != nil {
			return c.fail(span, r, attempt, ctxError(r, err, last))
		}
	}
}

// ctxError wraps the context's error and, when there was one, the last
// attempt's *Error, so both errors.Is(err, context.DeadlineExceeded) and
// IsRateLimited(err) see what happened.
func ctxError(r request, ctxErr error, last *Error) error {
	if last != nil {
		return fmt.Errorf("ghl: %s %s: %w; last attempt: %w", r.method, r.template, ctxErr, last)
	}
	return fmt.Errorf("ghl: %s %s: %w", r.method, r.template, ctxErr)
}

// fail records err on the span and returns it.
func (c *Client) fail(span trace.Span, r request, attempt int, err error) error {
	span.SetAttributes(attribute.Int("ghl.retry_count", attempt-1))
	c.spanRateLimit(span, r)
	errType := "context"
	var e *Error
	if errors.As(err, &e) {
		e.Attempts = attempt
		errType = e.Kind.String()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		errType = "context"
	}
	span.SetAttributes(attribute.String("error.type", errType))
	span.SetStatus(codes.Error, err.Error())
	return err
}

func (c *Client) spanRateLimit(span trace.Span, r request) {
	if rl, ok := c.limits.get(r.resource()); ok {
		span.SetAttributes(
			attribute.Int("ghl.ratelimit.remaining", rl.Remaining),
			attribute.Int("ghl.ratelimit.daily_remaining", rl.DailyRemaining),
		)
	}
}

func (r *request) resource() string {
	if r.location != "" {
		return r.location
	}
	return r.company
}

// attempt sends the request once and returns the response status (0 when
// none arrived) and a nil *Error on a 2xx whose body decoded into out.
// It calls release, the attempt's permit (nil when none), exactly once,
// whatever happens.
func (c *Client) attempt(ctx context.Context, r *request, bearer string, terr error, release Release, target string, body []byte, contentType string, attempt int, out any) (int, *Error) {
	info := ResponseInfo{Location: r.location, Company: r.company, Method: r.method, Path: r.template, Attempt: attempt,
		Lane: LaneOf(ctx)}
	if release != nil {
		// Deferred, so that even a panic below gives the permit back.
		defer func() { release(info) }()
	}
	var e *Error
	if terr != nil {
		e = &Error{Kind: tokenErrorKind(terr), Err: terr}
	} else {
		e = c.send(ctx, r, bearer, target, body, contentType, out, &info)
	}
	if e != nil {
		e.Method, e.Path = r.method, r.template
		if !e.RateLimit.Present {
			e.RateLimit, _ = c.limits.get(r.resource())
		}
		redact(e, append([]string{bearer}, r.secrets...))
		info.Err = e
	}
	if c.onResponse != nil {
		c.onResponse(info)
	}
	return info.StatusCode, e
}

// send does the HTTP exchange of one attempt with the bearer token (none
// for the OAuth endpoints) and fills info.
func (c *Client) send(ctx context.Context, r *request, token, target string, body []byte, contentType string, out any, info *ResponseInfo) *Error {
	actx := ctx
	if c.retry.attemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.retry.attemptTimeout)
		defer cancel()
	}
	if r.exchange != nil {
		return c.sendExchange(actx, r, out, info)
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body) // a fresh reader per attempt: retries resend the body
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, rd)
	if err != nil {
		return &Error{Err: err}
	}
	if body == nil {
		// net/http's Transport sends a bodiless GET again on its own when
		// a reused connection breaks after the request left (a reset
		// before the response): a second request on one permit, which
		// HighLevel counts. A body that is not http.NoBody and cannot be
		// had again (GetBody nil) makes the request not replayable; the
		// transport finds it empty and sends none. A retry, when one is
		// due, is then this client's, with its own permit.
		req.Body, req.GetBody = emptyBody{}, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if !r.oauthToken {
		req.Header.Set("Version", APIVersion)
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c.prop.Inject(ctx, propagation.HeaderCarrier(req.Header))

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		info.Duration = time.Since(start)
		c.metrics.sent(r, info)
		class, cause := transportError(err)
		return &Error{Kind: class, Err: cause}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	resp.Body.Close()
	info.Duration = time.Since(start)
	info.StatusCode = resp.StatusCode
	info.RateLimit, _ = ParseRateLimit(resp.Header)
	c.limits.put(r.resource(), info.RateLimit)
	c.metrics.sent(r, info)
	e := &Error{StatusCode: resp.StatusCode, RateLimit: info.RateLimit}
	if err != nil {
		e.Kind, e.Err = transportError(err)
		return e
	}
	if len(data) > maxResponseBytes {
		e.Err = fmt.Errorf("%w: body over %d bytes", ErrUnexpectedResponse, maxResponseBytes)
		return e
	}

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				e.Err = fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
				return e
			}
		}
		return nil
	}

	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if eb, err := DecodeErrorBody(data); err == nil {
		e.Messages, e.Code, e.TraceID = eb.Text(), eb.Code(), eb.TraceID
	} else if len(bytes.TrimSpace(data)) > 0 {
		e.Messages = []string{textSnippet(data, append([]string{token}, r.secrets...))}
	}
	e.Kind = classify(resp.StatusCode, e.Code)
	return e
}

// bearer returns the bearer token of r: none for the OAuth endpoints.
func (c *Client) bearer(r request) (string, error) {
	if r.oauthToken {
		return "", nil
	}
	return c.token()
}

// token asks the TokenSource for the bearer token.
func (c *Client) token() (string, error) {
	if c.ts == nil {
		return "", ErrNoToken
	}
	t, err := c.ts.Token()
	if err != nil {
		return "", &tokenError{err}
	}
	if t == nil || t.AccessToken == "" {
		return "", ErrNoToken
	}
	return t.AccessToken, nil
}

// tokenError is a TokenSource failure. The client does not retry it: the
// source owns its own retries, and the caller sees its class.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "token source: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// tokenErrorKind keeps the class of a *Error from the TokenSource (one
// built on this package's RefreshToken), treats an OAuth endpoint's 5xx as
// retryable, and anything else as an auth problem.
func tokenErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 500 {
		return KindRetryable
	}
	return KindAuth
}

// transportError classifies an error from sending or reading, dropping the
// *url.Error wrapper so the URL (and its query) never reaches the error.
func transportError(err error) (Kind, error) {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if transient(err) {
		return KindRetryable, err
	}
	return KindPermanent, err
}

// textSnippet returns the start of a non-JSON error body, on one line,
// with secrets redacted before it is cut.
func textSnippet(data []byte, secrets []string) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(data), "")), " ")
	s = redactString(s, secrets)
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// redact removes secrets from the parts of e that came from the server.
func redact(e *Error, secrets []string) {
	for i, m := range e.Messages {
		e.Messages[i] = redactString(m, secrets)
	}
	e.Code = redactString(e.Code, secrets)
	e.TraceID = redactString(e.TraceID, secrets)
}

func redactString(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// emptyBody is an empty request body that net/http cannot replay (see
// send).
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }
