package ghl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind sorts a failed call by what the caller should do about it.
type Kind int

const (
	// KindPermanent is a request HighLevel will never accept as sent:
	// 400, 404, 422 and other 4xx, or an unreadable success body. It is the
	// zero Kind.
	KindPermanent Kind = iota
	// KindRetryable is a transient failure: 5xx, a timeout, a reset or
	// refused connection. The same request may succeed later.
	KindRetryable
	// KindRateLimited is a 429: the request was not processed; retry after
	// Error.RetryAfter, or after the rate-limit window when that is zero.
	KindRateLimited
	// KindAuth is a 401 or 403, an OAuth invalid_grant, or a TokenSource
	// that could not produce a token: the credentials need attention.
	KindAuth
)

// String returns the class name used in span attributes and dead letters.
func (c Kind) String() string {
	switch c {
	case KindPermanent:
		return "permanent"
	case KindRetryable:
		return "retryable"
	case KindRateLimited:
		return "rate_limited"
	case KindAuth:
		return "auth"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

var (
	// ErrPermanent matches, with errors.Is, every *Error of KindPermanent.
	ErrPermanent = errors.New("ghl: permanent failure")
	// ErrRetryable matches every *Error of KindRetryable.
	ErrRetryable = errors.New("ghl: transient failure")
	// ErrRateLimited matches every *Error of KindRateLimited.
	ErrRateLimited = errors.New("ghl: rate limited")
	// ErrAuth matches every *Error of KindAuth.
	ErrAuth = errors.New("ghl: not authorized")

	// ErrNoToken is the cause of a KindAuth *Error when the client has no
	// TokenSource or the TokenSource returned an empty token.
	ErrNoToken = errors.New("no bearer token")
	// ErrUnexpectedResponse is the cause of a KindPermanent *Error when a
	// success response's body cannot be decoded.
	ErrUnexpectedResponse = errors.New("unexpected response body")
	// ErrInvalidArgument is returned, before any request is sent, for an
	// empty id or an empty list the API requires. It is permanent: the
	// same call would fail again.
	ErrInvalidArgument error = &invalidArgument{}
	// ErrPartialFailure matches a *BulkError: a bulk call that HighLevel
	// answered but that failed for some contacts.
	ErrPartialFailure = errors.New("ghl: bulk call failed for some contacts")
)

// Error is a failed HighLevel call, after any retries. It carries no token,
// no request body and no query string, so it is safe to log.
type Error struct {
	// Method and Path name the operation; Path is the route template
	// ("/contacts/{contactId}/tags"), never the concrete URL.
	Method string
	Path   string
	// StatusCode is the HTTP status of the last attempt; 0 when no
	// response arrived.
	StatusCode int
	// Messages are the error body's message(s) (or OAuth error_description).
	Messages []string
	// Code is an OAuth-style error code such as "invalid_grant", when the
	// body had one.
	Code string
	// TraceID is HighLevel's traceId from the error body, when present.
	TraceID string
	// Kind says what to do about the error.
	Kind Kind
	// RetryAfter is the Retry-After of the last response, 0 when absent.
	RetryAfter time.Duration
	// RateLimit is the last rate limit seen for the call's resource.
	RateLimit RateLimit
	// Attempts is how many requests were sent (or tried) for this call.
	Attempts int
	// Err is the underlying cause when there was no usable HTTP answer: a
	// transport error, ErrNoToken, ErrUnexpectedResponse.
	Err error
}

// Error formats e as
// "ghl: POST /contacts/{contactId}/tags: 422 Unprocessable Entity: tags must be an array (trace 1234)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ghl: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d", e.StatusCode)
		if t := http.StatusText(e.StatusCode); t != "" {
			b.WriteByte(' ')
			b.WriteString(t)
		}
	}
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if len(e.Messages) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Messages, "; "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.TraceID != "" {
		b.WriteString(" (trace ")
		b.WriteString(e.TraceID)
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRateLimited) (and the other class sentinels)
// true for an *Error of that class.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrPermanent:
		return e.Kind == KindPermanent
	case ErrRetryable:
		return e.Kind == KindRetryable
	case ErrRateLimited:
		return e.Kind == KindRateLimited
	case ErrAuth:
		return e.Kind == KindAuth
	}
	return false
}

// The methods below tell a caller what to do about e — retry, wait for a
// rate limit, give up, ask for re-authorisation — without its knowing
// HighLevel's statuses: they are the one mapping from a HighLevel answer
// to a behaviour. pkg/bus reads them through interfaces of its own (the
// way net.Error is read) to settle a message.

// Permanent reports whether no retry can fix e: a 400, 404, 422 or other
// 4xx than 401, 403 and 429, an unreadable success body, a request that
// could not be sent as built.
func (e *Error) Permanent() bool { return e.Kind == KindPermanent }

// RateLimited reports whether e is a 429, and how long to wait before the
// next try: its Retry-After, or the rate-limit window when HighLevel sent
// none (0 when neither is known).
func (e *Error) RateLimited() (time.Duration, bool) {
	if e.Kind != KindRateLimited {
		return 0, false
	}
	if e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return max(e.RateLimit.Interval, 0), true
}

// Unauthorized reports whether e is a failure of the credentials left
// after the token refresh the client tried (a 401, a 403, an OAuth
// invalid_grant, a TokenSource that could not produce a token): the
// location needs re-authorisation, which is no fault of the request.
func (e *Error) Unauthorized() bool { return e.Kind == KindAuth }

// invalidArgument is the type of ErrInvalidArgument.
type invalidArgument struct{}

func (*invalidArgument) Error() string { return "ghl: invalid argument" }

// Permanent reports true: the same arguments would be refused again.
func (*invalidArgument) Permanent() bool { return true }

// IsRetryable reports whether err is (or wraps) an *Error worth retrying
// later: KindRetryable or KindRateLimited.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == KindRetryable || e.Kind == KindRateLimited)
}

// IsRateLimited reports whether err is (or wraps) a 429 *Error, and the
// Retry-After it carried (0 when HighLevel sent none: wait for the window).
func IsRateLimited(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindRateLimited {
		return e.RetryAfter, true
	}
	return 0, false
}

// IsAuth reports whether err is (or wraps) a KindAuth *Error.
func IsAuth(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == KindAuth
}

// BulkError is returned with the response of a bulk tags call that
// HighLevel answered but that failed for some contacts. Each failure is
// listed; nothing is dropped.
type BulkError struct {
	// Op is "add" or "remove".
	Op string
	// Total is the number of contacts sent.
	Total int
	// Failures are the per-contact outcomes of type "error" (or, when
	// HighLevel reported errors without naming contacts, a synthetic one
	// with an empty ContactID).
	Failures []BulkTagOutcome
}

// Error lists up to five failures.
func (e *BulkError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ghl: bulk %s tags: %d of %d contacts failed", e.Op, len(e.Failures), e.Total)
	for i, f := range e.Failures {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Failures)-i)
			break
		}
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s: %s", sep, f.ContactID, f.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrPartialFailure) true.
func (e *BulkError) Is(target error) bool { return target == ErrPartialFailure }

// ErrorBody is a HighLevel error body. It reads the NestJS shape
// {"statusCode":422,"message":["..."],"error":"Unprocessable Entity"}, with
// message as a string or an array, and the OAuth shape
// {"error":"invalid_grant","error_description":"..."}.
type ErrorBody struct {
	StatusCode int
	// Messages holds message, whether it was a string or an array;
	// non-string items are kept as their JSON text.
	Messages []string
	// MessageIsList says message was (or is to be encoded as) an array.
	MessageIsList bool
	// Error is the "error" field: a status phrase ("Unauthorized") or an
	// OAuth error code ("invalid_grant").
	Error string
	// ErrorDescription is the OAuth error_description.
	ErrorDescription string
	TraceID          string
}

type errorBodyWire struct {
	StatusCode       json.RawMessage `json:"statusCode"`
	Status           json.RawMessage `json:"status"`
	Message          json.RawMessage `json:"message"`
	Error            json.RawMessage `json:"error"`
	ErrorDescription json.RawMessage `json:"error_description"`
	TraceID          json.RawMessage `json:"traceId"`
}

// DecodeErrorBody reads an error body. It fails (without panicking) only
// when data is not a JSON object; fields of unexpected types are kept as
// their JSON text or ignored.
func DecodeErrorBody(data []byte) (ErrorBody, error) {
	var w errorBodyWire
	if err := json.Unmarshal(data, &w); err != nil {
		return ErrorBody{}, fmt.Errorf("decode error body: %w", err)
	}
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		return ErrorBody{}, errors.New("decode error body: not a JSON object")
	}
	b := ErrorBody{
		Error:            rawString(w.Error),
		ErrorDescription: rawString(w.ErrorDescription),
		TraceID:          rawString(w.TraceID),
	}
	b.StatusCode = rawInt(w.StatusCode)
	if b.StatusCode == 0 {
		b.StatusCode = rawInt(w.Status)
	}
	var list []json.RawMessage
	switch {
	case isNull(w.Message):
	case json.Unmarshal(w.Message, &list) == nil:
		b.MessageIsList = true
		b.Messages = make([]string, 0, len(list))
		for _, m := range list {
			b.Messages = append(b.Messages, rawString(m))
		}
	default:
		b.Messages = []string{rawString(w.Message)}
	}
	return b, nil
}

// MarshalJSON encodes b with message as an array when MessageIsList is set
// or there is more than one message, as a string otherwise.
func (b ErrorBody) MarshalJSON() ([]byte, error) {
	out := struct {
		StatusCode       int    `json:"statusCode,omitempty"`
		Message          any    `json:"message,omitempty"`
		Error            string `json:"error,omitempty"`
		ErrorDescription string `json:"error_description,omitempty"`
		TraceID          string `json:"traceId,omitempty"`
	}{StatusCode: b.StatusCode, Error: b.Error, ErrorDescription: b.ErrorDescription, TraceID: b.TraceID}
	switch {
	case b.MessageIsList || len(b.Messages) > 1:
		msgs := b.Messages
		if msgs == nil {
			msgs = []string{}
		}
		out.Message = msgs
	case len(b.Messages) == 1:
		out.Message = b.Messages[0]
	}
	return json.Marshal(out)
}

// UnmarshalJSON is DecodeErrorBody.
func (b *ErrorBody) UnmarshalJSON(data []byte) error {
	v, err := DecodeErrorBody(data)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Text returns the human-readable messages of b: Messages, else the OAuth
// error_description, else nothing.
func (b ErrorBody) Text() []string {
	if len(b.Messages) > 0 {
		return b.Messages
	}
	if b.ErrorDescription != "" {
		return []string{b.ErrorDescription}
	}
	return nil
}

// oauthCode matches OAuth error codes ("invalid_grant"), not status
// phrases ("Bad Request").
var oauthCode = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Code returns b.Error when it is an OAuth-style error code.
func (b ErrorBody) Code() string {
	if oauthCode.MatchString(b.Error) {
		return b.Error
	}
	return ""
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// rawString returns a JSON string's value, or the JSON text of any other
// non-null value.
func rawString(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		raw = buf.Bytes()
	}
	return strings.ToValidUTF8(string(raw), string(utf8.RuneError))
}

// rawInt reads a JSON integer, or a string holding one; 0 otherwise.
func rawInt(raw json.RawMessage) int {
	if isNull(raw) {
		return 0
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(strings.TrimSpace(s))
	}
	v, err := strconv.Atoi(n.String())
	if err != nil {
		return 0
	}
	return v
}

// classify sorts an HTTP error status (and its decoded body) into a Kind.
func classify(status int, code string) Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return KindAuth
	case code == "invalid_grant", code == "invalid_client", code == "unauthorized_client":
		return KindAuth
	case status == http.StatusRequestTimeout:
		return KindRetryable
	case status == http.StatusNotImplemented, status == http.StatusHTTPVersionNotSupported:
		return KindPermanent
	case status >= 500:
		return KindRetryable
	default:
		return KindPermanent
	}
}
