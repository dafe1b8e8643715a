package bus

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
)

const (
	// maxCopiedHeaderBytes bounds one original header value copied into a
	// dead letter.
	maxCopiedHeaderBytes = 4096
	// payloadMargin is room left under the server's max_payload for the
	// protocol line of a dead letter.
	payloadMargin = 1024
)

// DeadLetter is a message a worker gave up on, as stored in
// SOCIALSYNC_DLQ: the original bytes, the original headers (minus Nats-*
// and credential-bearing ones) and the Socialsync-Dlq-* headers.
type DeadLetter struct {
	// Subject is the dead letter's own subject, "socialsync.dlq.<worker>.<loc>".
	Subject  string
	Worker   string
	Location string // "_invalid" when the original subject had no valid location
	// Reason is the error text (credentials redacted); Class its Class name.
	Reason string
	Class  string
	// OriginalSubject, Stream, Sequence and Consumer locate the original.
	OriginalSubject string
	Stream          string
	Sequence        uint64
	Consumer        string
	// Deliveries is how many times the original had been delivered.
	Deliveries uint64
	// Time is when the worker gave up.
	Time time.Time
	// MsgID is the original's Nats-Msg-Id, if it had one.
	MsgID string
	// Truncated says the original payload was too large to keep: Data is
	// empty.
	Truncated bool
	// Item is the part of the message that failed alone (DeadLetterItem),
	// or empty when the whole message failed.
	Item string
	// Header holds the original headers that were kept.
	Header nats.Header
	Data   []byte
}

// ParseDeadLetter reads a message of SOCIALSYNC_DLQ.
func ParseDeadLetter(subject string, h nats.Header, data []byte) (DeadLetter, error) {
	rest, ok := strings.CutPrefix(subject, DeadLetterPrefix+".")
	worker, loc, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || strings.Contains(loc, ".") {
		return DeadLetter{}, fmt.Errorf("bus: not a dead-letter subject: %q", truncate(subject, 128))
	}
	dl := DeadLetter{
		Subject:         subject,
		Worker:          worker,
		Location:        loc,
		Reason:          h.Get(HeaderDLQReason),
		Class:           h.Get(HeaderDLQClass),
		OriginalSubject: h.Get(HeaderDLQSubject),
		Stream:          h.Get(HeaderDLQStream),
		Consumer:        h.Get(HeaderDLQConsumer),
		MsgID:           h.Get(HeaderDLQMsgID),
		Truncated:       h.Get(HeaderDLQTruncated) != "",
		Item:            h.Get(HeaderDLQItem),
		Header:          nats.Header{},
		Data:            data,
	}
	var err error
	if dl.Deliveries, err = strconv.ParseUint(h.Get(HeaderDLQDeliveries), 10, 64); err != nil {
		return DeadLetter{}, fmt.Errorf("bus: dead letter %s: deliveries: %w", subject, err)
	}
	if dl.Sequence, err = strconv.ParseUint(h.Get(HeaderDLQSequence), 10, 64); err != nil {
		return DeadLetter{}, fmt.Errorf("bus: dead letter %s: sequence: %w", subject, err)
	}
	if dl.Time, err = time.Parse(time.RFC3339Nano, h.Get(HeaderDLQTime)); err != nil {
		return DeadLetter{}, fmt.Errorf("bus: dead letter %s: time: %w", subject, err)
	}
	for k, vs := range h {
		if isDLQHeader(k) || isNATSHeader(k) {
			continue
		}
		dl.Header[k] = vs
	}
	return dl, nil
}

// deadLetter publishes msg to the worker's dead-letter subject and returns
// that subject. Its Nats-Msg-Id names the original's stream, sequence and
// consumer, so a dead letter sent again (after a lost Term) is stored once.
func (s *settler) deadLetter(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, class Class, reason string) (string, error) {
	_, loc, _ := ParseSubject(msg.Subject())
	subject, err := DeadLetterSubject(s.worker, loc)
	if err != nil {
		return "", err
	}
	dl := nats.NewMsg(subject)
	size := 0
	for k, vs := range msg.Headers() {
		if isNATSHeader(k) || isDLQHeader(k) || sensitiveHeader(k) {
			continue
		}
		for _, v := range vs {
			v = headerValue(v, maxCopiedHeaderBytes)
			dl.Header.Add(k, v)
			size += len(k) + len(v) + 4
		}
	}
	set := func(k, v string) {
		dl.Header.Set(k, v)
		size += len(k) + len(v) + 4
	}
	set(HeaderDLQReason, headerValue(reason, maxReasonBytes))
	set(HeaderDLQClass, class.String())
	set(HeaderDLQSubject, headerValue(msg.Subject(), 512))
	set(HeaderDLQDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	set(HeaderDLQStream, meta.Stream)
	set(HeaderDLQSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	set(HeaderDLQConsumer, meta.Consumer)
	set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	if id := msg.Headers().Get(HeaderMsgID); id != "" {
		set(HeaderDLQMsgID, headerValue(id, 512))
	}
	set(HeaderMsgID, "dlq:"+meta.Stream+":"+strconv.FormatUint(meta.Sequence.Stream, 10)+":"+meta.Consumer)

	dl.Data = msg.Data()
	if limit := int(s.js.Conn().MaxPayload()) - payloadMargin; len(dl.Data)+size+len(subject) > limit {
		// The original arrived, so it fit; with the dead-letter headers
		// it may not. Keep the headers, which say what it was.
		set(HeaderDLQTruncated, strconv.Itoa(len(dl.Data)))
		dl.Data = nil
	}
	if _, err := s.js.PublishMsg(ctx, dl); err != nil {
		return "", fmt.Errorf("dead letter to %s: %w", subject, err)
	}
	return subject, nil
}

// isNATSHeader reports a header the server interprets (Nats-Msg-Id,
// Nats-Expected-*, Nats-Rollup, Nats-TTL, Nats-Schedule-*): copied into a
// dead letter it would deduplicate, reject, purge or schedule it.
func isNATSHeader(name string) bool {
	return len(name) >= 5 && strings.EqualFold(name[:5], "nats-")
}

func isDLQHeader(name string) bool {
	const p = "socialsync-dlq-"
	return len(name) >= len(p) && strings.EqualFold(name[:len(p)], p)
}

// DeadLetterItem dead-letters one item of msg, such as one contact of a
// post event, that failed for good while the rest of msg was handled: the
// handler sends it and goes on, so that msg can be acked and only the item
// is given up. The dead letter is the one the Consumer would send for msg,
// on "socialsync.dlq.<worker>.<loc>" with msg's bytes and headers and the
// Socialsync-Dlq-* headers, plus a Socialsync-Dlq-Item header naming the
// item, which also starts the reason. Its Nats-Msg-Id names msg's stream
// sequence, the consumer and the item, so that a redelivered msg
// dead-letters each item once within the duplicate window. It returns the
// dead letter's subject.
func DeadLetterItem(ctx context.Context, js jetstream.JetStream, worker string, msg jetstream.Msg, item string, class Class, reason string) (string, error) {
	meta, err := msg.Metadata()
	if err != nil {
		return "", fmt.Errorf("dead letter of %s: %w", truncate(msg.Subject(), 128), err)
	}
	item = headerValue(item, 256)
	s := &settler{js: itemPublisher{JetStream: js, item: item}, worker: worker}
	subject, err := s.deadLetter(ctx, msg, meta, class, item+": "+reason)
	if m := metricsFrom(ctx); err == nil && m != nil {
		m.deadLettered(attribute.String("worker", worker), class)
	}
	return subject, err
}

// itemPublisher gives the dead letters it publishes an item's header and a
// Nats-Msg-Id of their own, so that the dead letters of two items of one
// message are not taken for duplicates.
type itemPublisher struct {
	jetstream.JetStream
	item string
}

func (p itemPublisher) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	m.Header.Set(HeaderDLQItem, p.item)
	m.Header.Set(HeaderMsgID, m.Header.Get(HeaderMsgID)+":"+p.item)
	return p.JetStream.PublishMsg(ctx, m, opts...)
}
