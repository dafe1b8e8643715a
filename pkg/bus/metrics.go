package bus

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// The instruments a Consumer records when ConsumerOptions.MeterProvider is
// set, by OpenTelemetry name; the comment gives the Prometheus name and
// labels /metrics shows. Every label has a bounded set of values: the
// subject label is the subject's family pattern
// ("socialsync.trigger.post.*"), never a location's subject.
const (
	// MetricMessagesHandled counts settled deliveries:
	// socialsync_messages_handled_total{worker,subject,outcome}, outcome
	// one of OutcomeAck, OutcomeRetry, OutcomeDeferred, OutcomeDeadLetter,
	// OutcomeDropped.
	MetricMessagesHandled = "socialsync.messages.handled"
	// MetricMessageHandling is the handler's run time in seconds:
	// socialsync_message_handling_seconds{worker,subject} (a histogram).
	MetricMessageHandling = "socialsync.message.handling"
	// MetricDeadLetters counts dead letters sent, whole messages and
	// single items (DeadLetterItem):
	// socialsync_dead_letters_total{worker,reason}, reason the error's
	// Class ("bad_input", "retry_horizon", "crash_loop", …).
	MetricDeadLetters = "socialsync.dead_letters"
	// MetricConsumerLag is the durable's unfinished work as the server
	// reports it when metrics are read: messages not yet delivered
	// (num_pending) plus delivered and not yet acknowledged
	// (num_ack_pending, which includes deferred ones):
	// socialsync_consumer_lag{worker,consumer,stream}.
	MetricConsumerLag = "socialsync.consumer.lag"
	// MetricBadInputAcked counts bad input a durable acked without a dead
	// letter because another durable owns the subject family and sends
	// the one dead letter (ConsumerSpec.SilentBadInput):
	// socialsync_bad_input_acked_total{worker}.
	MetricBadInputAcked = "socialsync.bad_input_acked"
)

// The outcome label values of MetricMessagesHandled.
const (
	OutcomeAck        = "ack"
	OutcomeRetry      = "retry"
	OutcomeDeferred   = "deferred"
	OutcomeDeadLetter = "dead_letter"
	// OutcomeDropped is a message acked unhandled because what it is for
	// is gone (ClassDropped: a location uninstalled in HighLevel).
	OutcomeDropped = "dropped"
)

// handlingBuckets are the histogram bounds of MetricMessageHandling, in
// seconds: from a cached answer to a handler that waited out its timeout.
var handlingBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// lagTimeout bounds the consumer info request made when the lag is read.
const lagTimeout = 2 * time.Second

// OutcomeLabel names how a delivery was settled, as the outcome label of
// MetricMessagesHandled: a failed dead letter, which naks the message, is
// a retry; a message waiting for its location's re-authorisation is
// deferred.
func (o Outcome) OutcomeLabel() string {
	switch {
	case o.Decision.Action == ActionAck && o.Decision.Class == ClassDropped:
		return OutcomeDropped
	case o.Decision.Action == ActionAck:
		return OutcomeAck
	case o.Decision.Action == ActionNak && (o.Decision.Class == ClassDeferred || o.Decision.Class == ClassAuth):
		return OutcomeDeferred
	case o.Decision.Action == ActionNak:
		return OutcomeRetry
	default:
		return OutcomeDeadLetter
	}
}

// SubjectPattern returns the subject label of subject: its family's
// filter ("socialsync.trigger.post.*"), or "unknown" for a subject of no
// family known says exists, so that a label never holds a location id. A
// Consumer knows the families its filter subjects read (reads).
func SubjectPattern(subject string, known func(Family) bool) string {
	if f, _, _ := ParseSubject(subject); f != "" && known(f) {
		return f.Filter()
	}
	return "unknown"
}

// reads returns whether a family's subjects are among those spec's filter
// subjects read.
func reads(spec ConsumerSpec) func(Family) bool {
	filters := spec.Config.FilterSubjects
	if spec.Config.FilterSubject != "" {
		filters = append([]string{spec.Config.FilterSubject}, filters...)
	}
	return func(f Family) bool {
		for _, filter := range filters {
			if covers(filter, f.Filter()) {
				return true
			}
		}
		return false
	}
}

// covers reports whether filter matches some of the subjects pattern
// matches (NATS wildcards: "*" one token, ">" the rest).
func covers(filter, pattern string) bool {
	ft, pt := strings.Split(filter, "."), strings.Split(pattern, ".")
	for i, t := range ft {
		switch {
		case t == ">":
			return len(pt) > i
		case i >= len(pt):
			return false
		case t == "*" || pt[i] == "*" || t == pt[i]:
		default:
			return false
		}
	}
	return len(ft) == len(pt)
}

// consumerMetrics are the instruments of one worker's consumers.
type consumerMetrics struct {
	meter   metric.Meter
	worker  attribute.KeyValue
	handled metric.Int64Counter
	seconds metric.Float64Histogram
	dead    metric.Int64Counter
	silent  metric.Int64Counter
	lag     metric.Int64ObservableGauge
	// known reports the families the consumer reads (subject labels).
	known func(Family) bool
}

// newConsumerMetrics creates the instruments on mp (nothing is recorded
// when mp is nil). The SDK hands every Consumer of a process the same
// instruments.
func newConsumerMetrics(mp metric.MeterProvider, worker string, known func(Family) bool) (*consumerMetrics, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := &consumerMetrics{meter: mp.Meter(instrumentationName), worker: attribute.String("worker", worker), known: known}
	var err error
	if m.handled, err = m.meter.Int64Counter(MetricMessagesHandled,
		metric.WithDescription("Deliveries settled, by worker, subject pattern and outcome (ack, retry, deferred, dead_letter).")); err != nil {
		return nil, err
	}
	if m.seconds, err = m.meter.Float64Histogram(MetricMessageHandling, metric.WithUnit("s"),
		metric.WithDescription("Time the handler took for one delivery, by worker and subject pattern."),
		metric.WithExplicitBucketBoundaries(handlingBuckets...)); err != nil {
		return nil, err
	}
	if m.dead, err = m.meter.Int64Counter(MetricDeadLetters,
		metric.WithDescription("Dead letters sent (whole messages and single items), by worker and reason (error class).")); err != nil {
		return nil, err
	}
	if m.silent, err = m.meter.Int64Counter(MetricBadInputAcked,
		metric.WithDescription("Bad input acked without a dead letter: another durable owns the subject family and dead-letters it.")); err != nil {
		return nil, err
	}
	if m.lag, err = m.meter.Int64ObservableGauge(MetricConsumerLag,
		metric.WithDescription("Messages of the durable consumer not yet delivered plus delivered and not yet acknowledged.")); err != nil {
		return nil, err
	}
	return m, nil
}

// settled records one settled delivery.
func (m *consumerMetrics) settled(o Outcome) {
	ctx := context.Background()
	subject := attribute.String("subject", SubjectPattern(o.Subject, m.known))
	m.handled.Add(ctx, 1, metric.WithAttributes(m.worker, subject, attribute.String("outcome", o.OutcomeLabel())))
	m.seconds.Record(ctx, o.Duration.Seconds(), metric.WithAttributes(m.worker, subject))
	if o.DeadLetter != "" {
		m.deadLettered(m.worker, o.Decision.Class)
	}
}

// badInputAcked counts one bad message acked silently.
func (m *consumerMetrics) badInputAcked() {
	m.silent.Add(context.Background(), 1, metric.WithAttributes(m.worker))
}

// deadLettered counts one dead letter.
func (m *consumerMetrics) deadLettered(worker attribute.KeyValue, class Class) {
	m.dead.Add(context.Background(), 1, metric.WithAttributes(worker, attribute.String("reason", class.String())))
}

// watch reports cons's lag whenever metrics are read, until the returned
// registration is unregistered. A failed info request reports nothing for
// that read.
func (m *consumerMetrics) watch(cons jetstream.Consumer, spec ConsumerSpec) (metric.Registration, error) {
	attrs := metric.WithAttributes(m.worker,
		attribute.String("consumer", spec.Config.Durable), attribute.String("stream", spec.Stream))
	return m.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, lagTimeout)
		defer cancel()
		info, err := cons.Info(ctx)
		if err != nil {
			return nil // no figure is better than a wrong one; the next read tries again
		}
		o.ObserveInt64(m.lag, int64(info.NumPending)+int64(info.NumAckPending), attrs)
		return nil
	}, m.lag)
}

type metricsKey struct{}

// withMetrics puts the consumer's metrics into a handler's context, for
// DeadLetterItem.
func withMetrics(ctx context.Context, m *consumerMetrics) context.Context {
	return context.WithValue(ctx, metricsKey{}, m)
}

func metricsFrom(ctx context.Context) *consumerMetrics {
	m, _ := ctx.Value(metricsKey{}).(*consumerMetrics)
	return m
}
