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
	// AuthWait is how long a message waits before it is tried again when
	// its location needs re-authorisation (ClassAuth). A location marked
	// for re-authorisation defers its messages at once (see
	// the fleet's middleware), without calling HighLevel, so a short wait
	// costs nothing but a redelivery.
	AuthWait = 5 * time.Minute
)

// Backoff shapes the redelivery delay of a retryable failure that did not
// ask for one: Initial after the first delivery, doubling with every
// further delivery up to Max, each with ±20% jitter so that replicas do not
// retry in lockstep.
//
// It is a pure function of the delivery attempt, not a backoff/v4 BackOff:
// the attempt count is JetStream's (NumDelivered), and the next delivery
// may go to another process, so there is no in-process state for a
// BackOff to keep between the attempts.
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
	// Class is the error's class; ClassRetryHorizon when a retryable
	// failure happened to a message older than the retry horizon.
	Class Class
	// Delay is the redelivery delay of ActionNak.
	Delay time.Duration
}

// Decide is the policy turning a handler's error into a Decision, for
// delivery attempt (from 1) of a message stored age ago, retried for at
// most horizon (0: without limit):
//
//   - nil: ack
//   - dropped (what the message is for is gone): ack
//   - deferred: nak after the delay asked for, on any delivery, at any age
//   - auth (the location needs re-authorisation): nak after AuthWait, on
//     any delivery, at any age: the message waits for the location
//   - retryable and rate-limited errors: nak, after the delay the error asks
//     for (Retry-After wins) or the backoff, but no later than the horizon;
//     once the message is as old as the horizon, term with
//     ClassRetryHorizon instead
//   - every other class: term
//
// The number of deliveries decides nothing: a message deferred a thousand
// times is as alive as one delivered once.
func Decide(err error, attempt int, age, horizon time.Duration, b Backoff) Decision {
	class, after := Classify(err)
	switch {
	case class == ClassNone, class == ClassDropped:
		return Decision{Action: ActionAck, Class: class}
	case class == ClassDeferred:
		return Decision{Action: ActionNak, Class: class, Delay: after}
	case class == ClassAuth:
		return Decision{Action: ActionNak, Class: class, Delay: AuthWait}
	case class.retries():
		if horizon > 0 && age >= horizon {
			return Decision{Action: ActionTerm, Class: ClassRetryHorizon}
		}
		delay := min(after, maxRetryAfter)
		if delay <= 0 {
			delay = b.Delay(attempt)
		}
		if horizon > 0 {
			// The last try happens at the horizon, not a backoff later.
			delay = min(delay, horizon-age)
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
	js      jetstream.JetStream
	worker  string
	backoff Backoff
	// horizon bounds the retries of a retryable failure (0: no bound);
	// now is the clock the message's age is measured with.
	horizon time.Duration
	now     func() time.Time
	// deliveries counts the settled deliveries of nakked messages (see
	// deliveries.go); nil for the settler of DeadLetterItem.
	deliveries *deliveries
	// silentBadInput holds the families whose bad input another durable
	// dead-letters: this one acks it and counts it.
	silentBadInput map[Family]bool
	timeout        time.Duration
	log            *slog.Logger
	onSettle       func(Outcome)
	// metrics is nil for the settler of DeadLetterItem.
	metrics *consumerMetrics
}

// settle settles msg, delivered for the meta.NumDelivered-th time, whose
// handler returned err after running for took; h is the message's delivery
// history as this delivery found it (see deliveries.go). When
// shuttingDown, a retryable failure (typically the handler's cancelled
// context) is nakked without delay, for another replica to take over at
// once.
func (s *settler) settle(msg jetstream.Msg, meta *jetstream.MsgMetadata, err error, took time.Duration, shuttingDown bool, h history) Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()

	attempt := meta.NumDelivered
	// The backoff grows with the failures, not with the deliveries: a
	// message deferred a hundred times that fails once waits the first
	// step. Without a history (unknown), the delivery count stands in.
	failure := int(h.failures) + 1
	if h.unknown {
		failure = int(attempt)
	}
	age := s.clock()().Sub(meta.Timestamp)
	d := Decide(err, failure, age, s.horizon, s.backoff)
	if shuttingDown && d.Action == ActionNak {
		d.Delay = 0
	}
	family, loc, perr := ParseSubject(msg.Subject())
	silent := d.Class == ClassBadInput && s.silentBadInput[family]
	if silent {
		// Another durable reading this family sends the one dead letter.
		d = Decision{Action: ActionAck, Class: ClassBadInput}
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
	if perr == nil {
		out.Location = loc
	}
	if err != nil {
		out.Reason = headerValue(err.Error(), maxReasonBytes)
		if d.Class == ClassRetryHorizon {
			out.Reason = headerValue("still failing "+age.Round(time.Second).String()+" after it was published, past the retry horizon of "+
				s.horizon.String()+": "+out.Reason, maxReasonBytes)
		}
	}

	switch d.Action {
	case ActionAck:
		out.SettleErr = msg.DoubleAck(ctx)
		if silent && s.metrics != nil {
			s.metrics.badInputAcked()
		}
	case ActionNak:
		out.SettleErr = s.nak(ctx, msg, meta, h, d.Class.retries(), d.Delay)
	case ActionTerm:
		subject, dlErr := s.deadLetter(ctx, msg, meta, d.Class, out.Reason)
		if dlErr != nil {
			// Without its dead letter the message must not disappear:
			// deliver it again later, when the handler (or, in a crash
			// loop, the dead letter alone) is tried again.
			out.SettleErr = dlErr
			out.Decision = Decision{Action: ActionNak, Class: d.Class, Delay: s.backoff.Delay(failure)}
			if nakErr := s.nak(ctx, msg, meta, h, true, out.Decision.Delay); nakErr != nil {
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

// clock returns the settler's clock: now, or time.Now.
func (s *settler) clock() func() time.Time {
	if s.now != nil {
		return s.now
	}
	return time.Now
}

// nak records that this delivery of msg settled (h without an open
// delivery, one more failure when failed), then naks it for delay. A
// failed record does not stop the nak: the next delivery then finds this
// one open and counts a crash, one step of CrashLimit.
func (s *settler) nak(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, h history, failed bool, delay time.Duration) error {
	var recErr error
	if s.deliveries != nil {
		h.open, h.alive = 0, false
		if failed {
			h.failures++
		}
		recErr = s.deliveries.write(ctx, meta, h)
	}
	return errors.Join(recErr, msg.NakWithDelay(delay))
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
	case out.Decision.Action == ActionAck && out.SettleErr == nil && out.Decision.Class == ClassBadInput:
		s.log.LogAttrs(ctx, slog.LevelInfo, "bad input acked; the family's owner dead-letters it", attrs...)
	case out.Decision.Action == ActionAck && out.SettleErr == nil && out.Decision.Class == ClassDropped:
		s.log.LogAttrs(ctx, slog.LevelDebug, "message dropped: its location is gone", attrs...)
	case out.Decision.Action == ActionAck && out.SettleErr == nil:
		s.log.LogAttrs(ctx, slog.LevelDebug, "message acked", attrs...)
	case out.Decision.Action == ActionAck:
		s.log.LogAttrs(ctx, slog.LevelWarn, "ack failed; message will be redelivered", attrs...)
	case out.Decision.Action == ActionNak && out.Decision.Class == ClassDeferred:
		attrs = append(attrs, slog.Duration("delay", out.Decision.Delay))
		s.log.LogAttrs(ctx, slog.LevelDebug, "message deferred", attrs...)
	case out.Decision.Action == ActionNak && out.Decision.Class == ClassAuth:
		attrs = append(attrs, slog.Duration("delay", out.Decision.Delay))
		s.log.LogAttrs(ctx, slog.LevelWarn, "location needs re-authorisation; message waits", attrs...)
	case out.Decision.Action == ActionNak && out.SettleErr != nil && !out.Decision.Class.retries():
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
