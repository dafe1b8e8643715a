package bus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Backoff defaults.
const (
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	// maxRetryAfter caps a Retry-After, so that a corrupt header cannot
	// park a message for years.
	maxRetryAfter = 24 * time.Hour
	// maxReasonBytes bounds the error text of a dead letter and a log line.
	maxReasonBytes = 1024
)

// Backoff shapes the redelivery delay of a retryable failure that did not
// ask for one: Initial after the first delivery, doubling with every
// further delivery up to Max, each with ±20% jitter so that replicas do not
// retry in lockstep.
type Backoff struct {
	// Initial defaults to DefaultInitialBackoff.
	Initial time.Duration
	// Max defaults to DefaultMaxBackoff.
	Max time.Duration
}

// Delay returns the delay after delivery attempt (counting from 1) failed.
func (b Backoff) Delay(attempt int) time.Duration {
	initial, ceiling := b.Initial, b.Max
	if initial <= 0 {
		initial = DefaultInitialBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultMaxBackoff
	}
	d := initial
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	jittered := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(jittered, ceiling)
}

// Action is what happens to a handled message.
type Action int

const (
	// ActionAck acknowledges the message: it is done.
	ActionAck Action = iota
	// ActionNak asks for redelivery after Decision.Delay.
	ActionNak
	// ActionTerm dead-letters the message, then terminates it: it is
	// never delivered again.
	ActionTerm
)

// String returns "ack", "nak" or "term".
func (a Action) String() string {
	switch a {
	case ActionAck:
		return "ack"
	case ActionNak:
		return "nak"
	case ActionTerm:
		return "term"
	default:
		return "action(" + strconv.Itoa(int(a)) + ")"
	}
}

// Decision is what the bus does with a message after its handler returned.
type Decision struct {
	Action Action
	// Class is the error's class; ClassMaxDeliveries when a retryable
	// failure happened on the last allowed delivery.
	Class Class
	// Delay is the redelivery delay of ActionNak.
	Delay time.Duration
}

// Decide is the policy turning a handler's error into a Decision, for
// delivery attempt (from 1) of at most maxDeliveries (0: no limit):
//
//   - nil: ack
//   - deferred: nak after the delay asked for, on any delivery
//   - retryable and rate-limited errors: nak, after the delay the error asks
//     for (Retry-After wins) or the backoff; on the last allowed delivery,
//     term with ClassMaxDeliveries instead
//   - every other class: term
func Decide(err error, attempt, maxDeliveries int, b Backoff) Decision {
	class, after := Classify(err)
	switch {
	case class == ClassNone:
		return Decision{Action: ActionAck, Class: class}
	case class == ClassDeferred:
		return Decision{Action: ActionNak, Class: class, Delay: after}
	case class.retries():
		if maxDeliveries > 0 && attempt >= maxDeliveries {
			return Decision{Action: ActionTerm, Class: ClassMaxDeliveries}
		}
		delay := min(after, maxRetryAfter)
		if delay <= 0 {
			delay = b.Delay(attempt)
		}
		return Decision{Action: ActionNak, Class: class, Delay: delay}
	default:
		return Decision{Action: ActionTerm, Class: class}
	}
}

// Outcome reports how one delivery of a message was settled, for metrics
// and tests (ConsumerOptions.OnSettle).
type Outcome struct {
	Subject  string
	Location string // empty when the subject names no valid location
	Stream   string
	Consumer string
	Seq      uint64
	Attempt  uint64
	Decision Decision
	// Reason is the handler error's text with credentials redacted; empty
	// after success.
	Reason string
	// DeadLetter is the subject the dead letter went to, if one was sent.
	DeadLetter string
	// SettleErr is an error from acking, nakking, terminating or
	// dead-lettering. After a failed dead letter the message is nakked
	// instead of terminated, so it is not lost.
	SettleErr error
	// Duration is the handler's run time.
	Duration time.Duration
}

// settler is the one place where a handler's result becomes an Ack, a
// NakWithDelay or a Term with a dead letter, and where that is logged.
type settler struct {
	js            jetstream.JetStream
	worker        string
	maxDeliveries int
	backoff       Backoff
	timeout       time.Duration
	log           *slog.Logger
	onSettle      func(Outcome)
	// metrics is nil for the settler of DeadLetterItem.
	metrics *consumerMetrics
}

// settle settles msg, delivered for the meta.NumDelivered-th time, whose
// handler returned err after running for took. When shuttingDown, a
// retryable failure (typically the handler's cancelled context) is nakked
// without delay, for another replica to take over at once.
func (s *settler) settle(msg jetstream.Msg, meta *jetstream.MsgMetadata, err error, took time.Duration, shuttingDown bool) Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()

	attempt := meta.NumDelivered
	d := Decide(err, int(attempt), s.maxDeliveries, s.backoff)
	if shuttingDown && d.Action == ActionNak {
		d.Delay = 0
	}
	out := Outcome{
		Subject:  msg.Subject(),
		Stream:   meta.Stream,
		Consumer: meta.Consumer,
		Seq:      meta.Sequence.Stream,
		Attempt:  attempt,
		Decision: d,
		Duration: took,
	}
	if _, loc, perr := ParseSubject(msg.Subject()); perr == nil {
		out.Location = loc
	}
	if err != nil {
		out.Reason = headerValue(err.Error(), maxReasonBytes)
		if d.Class == ClassMaxDeliveries && !errors.Is(err, ErrMaxDeliveries) {
			out.Reason = headerValue("max deliveries ("+strconv.Itoa(s.maxDeliveries)+") reached: "+out.Reason, maxReasonBytes)
		}
	}

	switch d.Action {
	case ActionAck:
		out.SettleErr = msg.DoubleAck(ctx)
	case ActionNak:
		out.SettleErr = msg.NakWithDelay(d.Delay)
	case ActionTerm:
		subject, dlErr := s.deadLetter(ctx, msg, meta, d.Class, out.Reason)
		if dlErr != nil {
			// Without its dead letter the message must not disappear:
			// deliver it again later, when the handler (or, past the
			// last delivery, the dead letter alone) is tried again.
			out.SettleErr = dlErr
			out.Decision = Decision{Action: ActionNak, Class: d.Class, Delay: s.backoff.Delay(int(attempt))}
			if nakErr := msg.NakWithDelay(out.Decision.Delay); nakErr != nil {
				out.SettleErr = errors.Join(dlErr, nakErr)
			}
			break
		}
		out.DeadLetter = subject
		out.SettleErr = msg.TermWithReason(d.Class.String())
	}
	s.report(ctx, out, err)
	return out
}

// report logs the outcome, once, and passes it to onSettle. The logger
// already carries the stream and the consumer.
func (s *settler) report(ctx context.Context, out Outcome, err error) {
	attrs := []slog.Attr{
		slog.String("subject", truncate(out.Subject, 256)),
		slog.Uint64("seq", out.Seq),
		slog.Uint64("attempt", out.Attempt),
		slog.Duration("duration", out.Duration),
	}
	if out.Location != "" {
		attrs = append(attrs, slog.String("location", out.Location))
	}
	if out.Reason != "" {
		attrs = append(attrs, slog.String("class", out.Decision.Class.String()), slog.String("err", out.Reason))
	}
	if out.SettleErr != nil {
		attrs = append(attrs, slog.String("settle_err", headerValue(out.SettleErr.Error(), maxReasonBytes)))
	}
	switch {
	case out.Decision.Action == ActionAck && out.SettleErr == nil:
		s.log.LogAttrs(ctx, slog.LevelDebug, "message acked", attrs...)
	case out.Decision.Action == ActionAck:
		s.log.LogAttrs(ctx, slog.LevelWarn, "ack failed; message will be redelivered", attrs...)
	case out.Decision.Action == ActionNak && out.Decision.Class == ClassDeferred:
		attrs = append(attrs, slog.Duration("delay", out.Decision.Delay))
		s.log.LogAttrs(ctx, slog.LevelDebug, "message deferred", attrs...)
	case out.Decision.Action == ActionNak && !out.Decision.Class.retries():
		// Only a failed dead letter naks a message of a terminal class.
		attrs = append(attrs, slog.Duration("delay", out.Decision.Delay))
		s.log.LogAttrs(ctx, slog.LevelError, "dead letter failed; message will be redelivered", attrs...)
	case out.Decision.Action == ActionNak:
		attrs = append(attrs, slog.Duration("delay", out.Decision.Delay))
		s.log.LogAttrs(ctx, slog.LevelWarn, "message will be redelivered", attrs...)
	default:
		attrs = append(attrs, slog.String("dead_letter", out.DeadLetter))
		var pe *PanicError
		if errors.As(err, &pe) {
			attrs = append(attrs, slog.String("stack", string(pe.Stack)))
		}
		s.log.LogAttrs(ctx, slog.LevelError, "message dead-lettered", attrs...)
	}
	if s.metrics != nil {
		s.metrics.settled(out)
	}
	if s.onSettle != nil {
		s.onSettle(out)
	}
}
