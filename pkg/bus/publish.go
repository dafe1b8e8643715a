package bus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

const instrumentationName = "github.com/socialsync/socialsync/pkg/bus"

// PublisherOptions configure a Publisher. The zero value is usable.
type PublisherOptions struct {
	// TracerProvider defaults to otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// Propagator defaults to W3C trace context (traceparent, tracestate),
	// not to the global propagator: the wire contract requires those
	// headers even when telemetry is not configured.
	Propagator propagation.TextMapPropagator
	// Known reports whether a subject family exists; a Publisher refuses
	// to publish to a family it does not know with ErrUnknownSubject.
	// topology.Known knows socialsync's. Nil: every family.
	Known func(Family) bool
	// Schema decides the schema version the messages carry in
	// HeaderSchema; nil: SchemaOldest, which the previous release reads.
	Schema *SchemaGate
}

// Publisher publishes message contracts to JetStream. Every message gets a
// Nats-Msg-Id, a Content-Type and the W3C trace context of ctx. It is safe
// for concurrent use.
type Publisher struct {
	js     jetstream.JetStream
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	known  func(Family) bool
	schema *SchemaGate
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream, opts PublisherOptions) *Publisher {
	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	prop := opts.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	return &Publisher{js: js, tracer: tp.Tracer(instrumentationName), prop: prop, known: opts.Known, schema: opts.Schema}
}

// PublishOption adjusts one Publish.
type PublishOption func(*publishConfig)

type publishConfig struct {
	msgID string
}

// WithMsgID sets the Nats-Msg-Id, overriding the event_id and the derived
// id. Use it for a message with no event_id whose content varies between
// retries (a timestamp) but whose meaning does not.
func WithMsgID(id string) PublishOption {
	return func(c *publishConfig) { c.msgID = id }
}

// MsgIDOf returns the message id opts set with WithMsgID ("" when none),
// for a worker's fake of its publisher in a handler test.
func MsgIDOf(opts ...PublishOption) string {
	var c publishConfig
	for _, o := range opts {
		o(&c)
	}
	return c.msgID
}

// Publish sends m to subject and waits for the stream's acknowledgement.
// The subject must belong to a Family and name a valid location, and m's
// location_id, when it has one, must be that location: otherwise Publish
// fails with ErrBadInput and sends nothing.
//
// The Nats-Msg-Id is WithMsgID's, else m's event_id, else MsgID(subject,
// m). A message with the id of one stored within the stream's duplicate
// window is not stored again: the returned PubAck has Duplicate set. A
// message the stream refuses for want of room fails with a *FullError
// (ErrStreamFull, ErrSubjectFull).
func (p *Publisher) Publish(ctx context.Context, subject string, m proto.Message, opts ...PublishOption) (*jetstream.PubAck, error) {
	family, loc, err := p.parse(subject)
	if err != nil {
		return nil, err
	}
	if err := checkLocation(m, loc); err != nil {
		return nil, err
	}
	var cfg publishConfig
	for _, o := range opts {
		o(&cfg)
	}
	data, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	id := cfg.msgID
	if id == "" {
		id, _ = stringField(m, eventIDField)
	}
	if id == "" {
		id = msgID(subject, m, data)
	}

	ctx, span := p.tracer.Start(ctx, "send "+string(family),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.message.id", id),
			attribute.String("socialsync.location", loc),
		))
	defer span.End()

	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(HeaderContentType, ContentTypeProtobuf)
	msg.Header.Set(HeaderMsgID, id)
	p.markSchema(msg.Header)
	p.prop.Inject(ctx, headerCarrier(msg.Header))

	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		span.SetStatus(codes.Error, redact(err.Error()))
		return nil, fmt.Errorf("publish %s: %w", subject, asFull(subject, err))
	}
	span.SetAttributes(attribute.Bool("socialsync.duplicate", ack.Duplicate))
	return ack, nil
}

// MsgID returns the Nats-Msg-Id derived from a message's content: the hex
// SHA-256 (first 128 bits) of the subject, the message type and its
// deterministic protobuf encoding. Equal messages to the same subject have
// the same id, so JetStream drops the copies inside the duplicate window.
func MsgID(subject string, m proto.Message) (string, error) {
	data, err := Marshal(m)
	if err != nil {
		return "", err
	}
	return msgID(subject, m, data), nil
}

func msgID(subject string, m proto.Message, data []byte) string {
	h := sha256.New()
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(m.ProtoReflect().Descriptor().FullName()))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Schedule is a JetStream message schedule (nats-server 2.14 or later): a
// message stored on Subject that the server publishes to Target whenever
// Spec fires. Subject and Target must be in the same stream with
// AllowMsgSchedules, such as topology.StatsSchedules and
// topology.ScheduledStats in topology.StreamSchedules.
type Schedule struct {
	// Subject holds the schedule; publishing a new schedule there replaces
	// the old one.
	Subject string
	// Target receives the fired messages.
	Target string
	// Spec is a 6-field cron expression (seconds first), a predefined one
	// ("@daily", "@hourly"), "@every <duration>" (at least 1s) or
	// "@at <RFC 3339 time>".
	Spec string
	// TimeZone is the IANA zone of a cron Spec; empty means UTC. The
	// server rejects it with @every and @at.
	TimeZone string
}

// Schedule stores schedule s with m as the message it fires. Both
// subjects must belong to a Family and name the location m names. Unlike
// Publish it sets no trace headers: the server copies the schedule's
// headers into every message it fires, which would tie a year of daily
// runs to the trace of the call that created the schedule.
func (p *Publisher) Schedule(ctx context.Context, s Schedule, m proto.Message) (*jetstream.PubAck, error) {
	for _, subj := range []string{s.Subject, s.Target} {
		_, loc, err := p.parse(subj)
		if err != nil {
			return nil, err
		}
		if err := checkLocation(m, loc); err != nil {
			return nil, err
		}
	}
	if s.Spec == "" {
		return nil, fmt.Errorf("bus: schedule %s: empty spec", s.Subject)
	}
	data, err := Marshal(m)
	if err != nil {
		return nil, err
	}
	msg := nats.NewMsg(s.Subject)
	msg.Data = data
	msg.Header.Set(HeaderContentType, ContentTypeProtobuf)
	p.markSchema(msg.Header)
	msg.Header.Set(jetstream.ScheduleHeader, s.Spec)
	msg.Header.Set(jetstream.ScheduleTargetHeader, s.Target)
	if s.TimeZone != "" {
		msg.Header.Set(jetstream.ScheduleTimeZoneHeader, s.TimeZone)
	}
	ack, err := p.js.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("schedule %s: %w", s.Subject, err)
	}
	return ack, nil
}

// markSchema sets HeaderSchema to the version the gate allows. Version 1
// is unmarked, as v0.1.0 published it.
func (p *Publisher) markSchema(h nats.Header) {
	if v := p.schema.Write(); v > SchemaUnmarked {
		h.Set(HeaderSchema, strconv.Itoa(v))
	}
}

// parse is ParseSubject, refusing a family the Publisher does not know.
func (p *Publisher) parse(subject string) (Family, string, error) {
	f, loc, err := ParseSubject(subject)
	if f != "" && p.known != nil && !p.known(f) {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownSubject, truncate(subject, 128))
	}
	return f, loc, err
}

// Unschedule removes the schedule stored on subject, if any.
func (p *Publisher) Unschedule(ctx context.Context, subject string) error {
	if _, _, err := p.parse(subject); err != nil {
		return err
	}
	name, err := p.js.StreamNameBySubject(ctx, subject)
	if err != nil {
		return fmt.Errorf("unschedule %s: %w", subject, err)
	}
	stream, err := p.js.Stream(ctx, name)
	if err != nil {
		return fmt.Errorf("unschedule %s: %w", subject, err)
	}
	if err := stream.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return fmt.Errorf("unschedule %s: %w", subject, err)
	}
	return nil
}
