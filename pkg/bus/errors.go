package bus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Class sorts a handler's error by what the bus does with the message. The
// dead-letter header Socialsync-Dlq-Class and the span attribute error.type
// carry its String.
type Class int

const (
	// ClassNone is the class of a nil error: the message is acked.
	ClassNone Class = iota
	// ClassRetryable is a transient failure (a 5xx, a timeout, a NATS
	// hiccup, any error the bus does not recognise): NakWithDelay with
	// exponential backoff, or with the wait RetryAfter asked for.
	ClassRetryable
	// ClassRateLimited is a 429 from HighLevel: NakWithDelay for its
	// Retry-After, or for the rate-limit window when it sent none.
	ClassRateLimited
	// ClassPermanent is a failure that no retry can fix (Permanent, a 400,
	// 404 or 422 from HighLevel): Term and a dead letter.
	ClassPermanent
	// ClassBadInput is a message the bus cannot hand to a handler: too
	// large, undecodable, a bad location id, a payload that disagrees with
	// its subject. Term and a dead letter.
	ClassBadInput
	// ClassAuth is a HighLevel 401 or 403 left after the token refresh the
	// client already attempted: the location needs re-authorisation, which
	// is no fault of the message. NakWithDelay for AuthWait, however often,
	// until the location is connected again; never a dead letter, but a
	// message older than its stream's MaxAge (35 days for triggers) is
	// dropped by the server meanwhile.
	ClassAuth
	// ClassPanic is a handler that panicked: Term and a dead letter, since
	// the same input would panic again.
	ClassPanic
	// ClassRetryHorizon is a retryable failure of a message older than the
	// consumer's retry horizon (measured from the time the stream stored
	// it): a dead letter.
	ClassRetryHorizon
	// ClassDeferred is not a failure: the handler chose to take the message
	// later (Defer). NakWithDelay for the wait it asked for; it never
	// becomes a dead letter, however often it is deferred, and it is
	// logged at debug level.
	ClassDeferred
	// ClassCrashLoop is a message whose handler was cut short too often
	// (the process died, or froze past the ack wait, while it ran): a dead
	// letter, without running the handler again.
	ClassCrashLoop
	// ClassDropped is a message for something that is gone on purpose (a
	// location uninstalled in HighLevel: an error whose Dropped() reports
	// true): acked unhandled and counted (OutcomeDropped), never a dead
	// letter, so that its backlog does not become one dead letter each.
	ClassDropped
)

// String returns the class name used in dead letters, spans and logs.
func (c Class) String() string {
	switch c {
	case ClassNone:
		return "none"
	case ClassRetryable:
		return "retryable"
	case ClassRateLimited:
		return "rate_limited"
	case ClassPermanent:
		return "permanent"
	case ClassBadInput:
		return "bad_input"
	case ClassAuth:
		return "auth"
	case ClassPanic:
		return "panic"
	case ClassRetryHorizon:
		return "retry_horizon"
	case ClassDeferred:
		return "deferred"
	case ClassCrashLoop:
		return "crash_loop"
	case ClassDropped:
		return "dropped"
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

// retries reports whether a message failing with an error of class c is
// delivered again.
func (c Class) retries() bool { return c == ClassRetryable || c == ClassRateLimited }

var (
	// ErrBusy is the cause of the deferral of a message whose keys another
	// handler of this replica holds (Stripes).
	ErrBusy = errors.New("another handler of this replica is updating these contacts")

	// ErrBadInput matches every error about the message itself:
	// ErrTooLarge, ErrUndecodable, ErrUnknownSubject, ErrInvalidLocation,
	// ErrLocationMismatch and ErrUnknownLocation.
	ErrBadInput = errors.New("bus: bad input")

	// ErrTooLarge is a message over the consumer's MaxMessageBytes.
	ErrTooLarge error = &inputError{"bus: message too large"}
	// ErrUndecodable is a payload that is not the protobuf (or, with
	// Content-Type: application/json, the protojson) of the expected
	// message, or that has an unsupported Content-Type.
	ErrUndecodable error = &inputError{"bus: undecodable message"}
	// ErrUnknownSubject is a subject of no Family.
	ErrUnknownSubject error = &inputError{"bus: unknown subject"}
	// ErrInvalidLocation is a location id that is not 1 to 64 ASCII
	// letters and digits. Such an id never reaches a subject.
	ErrInvalidLocation error = &inputError{"bus: invalid location id"}
	// ErrUnknownLocation is a message for a location that is not
	// registered (the Registered middleware): it is dead-lettered before
	// its handler runs, so no per-location state is made for it.
	ErrUnknownLocation error = &inputError{"bus: unknown location (not registered)"}
	// ErrLocationMismatch is a payload whose location_id is not the
	// location its subject names (an empty location_id included).
	ErrLocationMismatch error = &inputError{"bus: payload location does not match subject"}

	// ErrPanic matches the *PanicError that Recover returns.
	ErrPanic = errors.New("bus: handler panicked")
	// ErrCrashLoop is the error recorded for a message whose handler was
	// cut short as often as the consumer's crash limit: it is not run
	// again.
	ErrCrashLoop = errors.New("bus: crash loop")
)

// The behaviour of an error — what the bus does with the message a
// handler failed with — is asked of the error itself, through the small
// interfaces below, the way net.Error answers Timeout. A package that
// knows the cause implements the methods on its own error types without
// importing bus (pkg/ghl maps HighLevel's statuses, pkg/ids its id rules,
// pkg/ratelimit its pacing, pkg/creds its refresh waits); Permanent,
// RetryAfter and Defer wrap any other error for a handler that decides
// itself. Classify is the one place that reads them. Each is found
// anywhere in the error's tree (errors.Unwrap, including joined errors).
type (
	// badInputer is an error about the message itself (an *ids.Error: a
	// field that breaks its rule): Term and a dead letter, whatever else
	// the error says.
	badInputer interface {
		error
		BadInput() bool
	}
	// deferrer is an error that asks for its message to come back later,
	// after DeferFor: no failure, never a dead letter (a
	// *ratelimit.PacedError, Defer).
	deferrer interface {
		error
		DeferFor() time.Duration
	}
	// retryAfterer is a transient failure that asks for redelivery after
	// RetryAfter (0: after the backoff), whatever the errors it wraps say:
	// a token refresh another process is running (pkg/creds), RetryAfter.
	retryAfterer interface {
		error
		RetryAfter() time.Duration
	}
	// permanenter is a failure no retry can fix (a HighLevel 400, 404 or
	// 422, an invalid argument, Permanent): Term and a dead letter.
	permanenter interface {
		error
		Permanent() bool
	}
	// rateLimiter is a rejection by a rate limit (a HighLevel 429): a
	// retry after the wait it reports, or after the backoff when that is 0.
	rateLimiter interface {
		error
		RateLimited() (wait time.Duration, ok bool)
	}
	// unauthorizer is a failure of the credentials, not of the message (a
	// HighLevel 401 or 403 after the refresh the client tried): the
	// message waits for the location to be connected again.
	unauthorizer interface {
		error
		Unauthorized() bool
	}
	// dropper is an error about what the message is for, which is gone
	// on purpose (a *creds.UninstalledError): ack, counted.
	dropper interface {
		error
		Dropped() bool
	}
)

// inputError is a bad-input sentinel: it matches ErrBadInput.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func (e *inputError) Is(target error) bool { return target == ErrBadInput }

// BadInput reports true: the message itself is wrong.
func (e *inputError) BadInput() bool { return true }

// Permanent marks err as permanent: the message is terminated and
// dead-lettered instead of redelivered. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }

func (e *permanentError) Unwrap() error { return e.err }

func (e *permanentError) Permanent() bool { return true }

// RetryAfterError asks for the message to be delivered again after After,
// whatever the backoff would say. RetryAfter makes one.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// RetryAfter marks err as transient and asks for redelivery after d. It
// wins over every other classification but bad input and deferral.
// RetryAfter(nil, d) is nil.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: d}
}

// Error returns the wrapped error's text.
func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// RetryAfter returns After.
func (e *RetryAfterError) RetryAfter() time.Duration { return e.After }

// DeferError asks for the message to be handled later, after After: the
// handler is not failing, it is waiting for something (a fetch another
// handler is running, a pacing interval). Defer makes one.
type DeferError struct {
	Err   error
	After time.Duration
}

// Defer hands the message back to JetStream to be delivered again after d,
// so the server, not the process, holds the wait. Unlike RetryAfter it is
// no failure: it never counts toward a dead letter. Defer(nil, d) is nil.
func Defer(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &DeferError{Err: err, After: d}
}

// Error returns the wrapped error's text.
func (e *DeferError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *DeferError) Unwrap() error { return e.Err }

// DeferFor returns After.
func (e *DeferError) DeferFor() time.Duration { return e.After }

// PanicError is a recovered handler panic. Its Error holds the panic value;
// the stack is logged, never put in a dead letter.
type PanicError struct {
	Value any
	Stack []byte
}

// Error formats the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("bus: handler panicked: %v", e.Value) }

// Is makes errors.Is(err, ErrPanic) true.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// Classify sorts err and returns the redelivery delay it asks for (0 when
// the backoff decides). It reads the error's behaviour through the
// interfaces above; the first rule that matches wins:
//
//   - nil: ClassNone
//   - a *PanicError: ClassPanic
//   - ErrCrashLoop: ClassCrashLoop
//   - an error whose BadInput() reports true (those matching ErrBadInput, an
//     *ids.Error): ClassBadInput
//   - an error whose Dropped() reports true (a *creds.UninstalledError):
//     ClassDropped
//   - an error with a DeferFor() time.Duration method (Defer, a
//     *ratelimit.PacedError: the location's request budget is spent for
//     now): ClassDeferred, with that delay
//   - an error with a RetryAfter() time.Duration method (RetryAfter, a
//     token refresh that must wait): ClassRateLimited when the error also
//     holds a rate limit's rejection (RateLimited), ClassRetryable
//     otherwise, with that delay
//   - an error whose Permanent() reports true (Permanent, a HighLevel 4xx
//     other than 401, 403 and 429, an invalid argument): ClassPermanent
//   - an error whose RateLimited() reports true (a HighLevel 429):
//     ClassRateLimited, with the wait it reports
//   - an error whose Unauthorized() reports true (a HighLevel 401 or 403
//     left after the token refresh): ClassAuth
//   - anything else, context errors included: ClassRetryable
func Classify(err error) (Class, time.Duration) {
	if err == nil {
		return ClassNone, 0
	}
	if errors.Is(err, ErrPanic) {
		return ClassPanic, 0
	}
	if errors.Is(err, ErrCrashLoop) {
		return ClassCrashLoop, 0
	}
	if _, ok := find(err, func(e badInputer) bool { return e.BadInput() }); ok {
		return ClassBadInput, 0
	}
	if _, ok := find(err, func(e dropper) bool { return e.Dropped() }); ok {
		return ClassDropped, 0
	}
	if df, ok := find(err, func(deferrer) bool { return true }); ok {
		return ClassDeferred, min(max(df.DeferFor(), 0), maxRetryAfter)
	}
	if ra, ok := find(err, func(retryAfterer) bool { return true }); ok {
		if _, limited := rateLimited(err); limited {
			return ClassRateLimited, max(ra.RetryAfter(), 0)
		}
		return ClassRetryable, max(ra.RetryAfter(), 0)
	}
	if _, ok := find(err, func(e permanenter) bool { return e.Permanent() }); ok {
		return ClassPermanent, 0
	}
	if wait, ok := rateLimited(err); ok {
		return ClassRateLimited, max(wait, 0)
	}
	if _, ok := find(err, func(e unauthorizer) bool { return e.Unauthorized() }); ok {
		return ClassAuth, 0
	}
	return ClassRetryable, 0
}

// rateLimited returns the wait of the first rate limit's rejection in
// err's tree.
func rateLimited(err error) (time.Duration, bool) {
	var wait time.Duration
	_, ok := find(err, func(e rateLimiter) bool {
		w, limited := e.RateLimited()
		wait = w
		return limited
	})
	return wait, ok
}

// find walks err's tree depth-first, in the order errors.As does, and
// returns the first error that implements T and satisfies ok.
func find[T error](err error, ok func(T) bool) (T, bool) {
	var zero T
	if err == nil {
		return zero, false
	}
	if t, is := err.(T); is && ok(t) {
		return t, true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return find(u.Unwrap(), ok)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if t, found := find(e, ok); found {
				return t, true
			}
		}
	}
	return zero, false
}

// ErrStreamFull matches a publish the stream refused because it holds its
// MaxBytes (or MaxMsgs): nothing stored was deleted to make room. The
// message was not stored; publish it again once the stream has room.
var ErrStreamFull = errors.New("bus: stream full")

// ErrSubjectFull matches a publish refused because its subject (one kind
// of trigger of one location) holds its quota of unfinished messages
// (the stream's MaxMsgsPerSubject with DiscardNewPerSubject): that
// location's new messages of that kind wait until its backlog shrinks;
// other locations are not affected.
var ErrSubjectFull = errors.New("bus: subject full")

// jsStoreFailed is the JetStream error code of a message the stream did
// not store (JSStreamStoreFailedErrF); its description names the limit.
const jsStoreFailed jetstream.ErrorCode = 10077

// FullError is a publish refused for want of room. It matches
// ErrSubjectFull when the subject's quota was reached, ErrStreamFull when
// the whole stream's. It is retryable: the bus retries a handler failing
// with it as any transient failure.
type FullError struct {
	// Subject is the subject the message was refused on.
	Subject string
	// PerSubject is true for the subject's quota, false for the stream's
	// size.
	PerSubject bool
	// Err is the server's error.
	Err error
}

// Error says what was full.
func (e *FullError) Error() string {
	if e.PerSubject {
		return fmt.Sprintf("bus: %s holds its quota of unfinished messages; retry once its backlog shrinks: %v", e.Subject, e.Err)
	}
	return fmt.Sprintf("bus: the stream of %s is full; retry once it has room: %v", e.Subject, e.Err)
}

// Unwrap returns the server's error.
func (e *FullError) Unwrap() error { return e.Err }

// Is makes errors.Is match ErrSubjectFull or ErrStreamFull.
func (e *FullError) Is(target error) bool {
	return (e.PerSubject && target == ErrSubjectFull) || (!e.PerSubject && target == ErrStreamFull)
}

// asFull returns a *FullError for a publish to subject that the server
// refused for a limit under discard new, else err.
func asFull(subject string, err error) error {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) || ae.ErrorCode != jsStoreFailed {
		return err
	}
	switch d := ae.Description; {
	case strings.Contains(d, "maximum messages per subject exceeded"):
		return &FullError{Subject: subject, PerSubject: true, Err: err}
	case strings.Contains(d, "maximum bytes exceeded"), strings.Contains(d, "maximum messages exceeded"):
		return &FullError{Subject: subject, Err: err}
	}
	return err
}

// MissingError is Verify's answer when the server lacks part of a
// topology: the topology has not been applied (socialsync topology apply),
// or was applied by an older release. Waiting cures it once the operator
// step has run.
type MissingError struct {
	// Missing names each stream, consumer, key-value bucket or object
	// store the server does not hold, as "stream SOCIALSYNC_TRIGGERS",
	// "consumer fetcher on SOCIALSYNC_TRIGGERS", "key-value bucket
	// socialsync_tags", "object store socialsync_reports".
	Missing []string
}

func (e *MissingError) Error() string {
	return "topology not applied (run socialsync topology apply): missing " + strings.Join(e.Missing, ", ")
}
