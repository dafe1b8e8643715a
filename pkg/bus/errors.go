package bus

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ghl"
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
	// message older than its stream's MaxAge (7 days for triggers) is
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
	default:
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
}

// retries reports whether a message failing with an error of class c is
// delivered again.
func (c Class) retries() bool { return c == ClassRetryable || c == ClassRateLimited }

var (
	// ErrPermanent matches, with errors.Is, every error made by Permanent
	// and every bad-input error: the message is terminated and
	// dead-lettered.
	ErrPermanent = errors.New("bus: permanent failure")
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
	// registered (ConsumerOptions.Locations): it is dead-lettered before
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

// inputError is a bad-input sentinel: it matches ErrBadInput and
// ErrPermanent.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func (e *inputError) Is(target error) bool { return target == ErrBadInput || target == ErrPermanent }

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

func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// RetryAfterError asks for the message to be delivered again after After,
// whatever the backoff would say. RetryAfter makes one.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

// RetryAfter marks err as transient and asks for redelivery after d. It
// wins over every other classification but bad input. RetryAfter(nil, d)
// is nil.
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

// deferrer is an error that asks, like Defer, for its message to come back
// later. Packages that know nothing of the bus implement it, so that their
// errors pass through handlers unchanged and still settle as deferrals.
type deferrer interface {
	error
	DeferFor() time.Duration
}

// badInputer is an error about the message itself (an *ids.Error: a field
// that breaks its rule). Packages that know nothing of the bus implement
// it, so that their errors settle as bad input wherever they are wrapped.
type badInputer interface {
	error
	BadInput() bool
}

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
// the backoff decides). The first rule that matches wins:
//
//   - nil: ClassNone
//   - a *PanicError: ClassPanic
//   - ErrCrashLoop: ClassCrashLoop
//   - ErrBadInput, or an error with a BadInput() bool method that
//     reports true (an *ids.Error): ClassBadInput
//   - a *DeferError: ClassDeferred, with its delay
//   - an error with a DeferFor() time.Duration method (a
//     *ratelimit.PacedError: the location's request budget is spent for
//     now): ClassDeferred, with that delay
//   - a *RetryAfterError: ClassRateLimited when it wraps a HighLevel 429,
//     ClassRetryable otherwise, with its delay
//   - ErrPermanent (Permanent): ClassPermanent
//   - a *ghl.Error: its class; a 429 with the Retry-After it carried, or
//     the rate-limit interval when it carried none
//   - ghl.ErrInvalidArgument: ClassPermanent
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
	if errors.Is(err, ErrBadInput) {
		return ClassBadInput, 0
	}
	var bi badInputer
	if errors.As(err, &bi) && bi.BadInput() {
		return ClassBadInput, 0
	}
	var de *DeferError
	if errors.As(err, &de) {
		return ClassDeferred, min(max(de.After, 0), maxRetryAfter)
	}
	var df deferrer
	if errors.As(err, &df) {
		return ClassDeferred, min(max(df.DeferFor(), 0), maxRetryAfter)
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		if _, limited := ghl.IsRateLimited(err); limited {
			return ClassRateLimited, max(ra.After, 0)
		}
		return ClassRetryable, max(ra.After, 0)
	}
	if errors.Is(err, ErrPermanent) {
		return ClassPermanent, 0
	}
	var ge *ghl.Error
	if errors.As(err, &ge) {
		switch ge.Class {
		case ghl.ClassRateLimited:
			if ge.RetryAfter > 0 {
				return ClassRateLimited, ge.RetryAfter
			}
			return ClassRateLimited, max(ge.RateLimit.Interval, 0)
		case ghl.ClassRetryable:
			return ClassRetryable, 0
		case ghl.ClassAuth:
			return ClassAuth, 0
		default:
			return ClassPermanent, 0
		}
	}
	if errors.Is(err, ghl.ErrInvalidArgument) {
		return ClassPermanent, 0
	}
	return ClassRetryable, 0
}

// ErrStreamFull matches a publish the stream refused because it holds its
// MaxBytes (or MaxMsgs): nothing stored was deleted to make room. The
// message was not stored; publish it again once the stream has room.
var ErrStreamFull = errors.New("bus: stream full")

// ErrSubjectFull matches a publish refused because its subject (one kind
// of trigger of one location) holds its quota of unfinished messages
// (MaxTriggersPerSubject): that location's new messages of that kind wait
// until its backlog shrinks; other locations are not affected.
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
