package bus

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// Header names the bus reads and writes. NATS header names are case
// sensitive; the bus writes these spellings and reads Content-Type and the
// W3C trace headers in any case, so that `nats pub -H content-type:...`
// works too.
const (
	// HeaderContentType selects the payload encoding: ContentTypeJSON for
	// protojson, ContentTypeProtobuf (or no header) for protobuf.
	HeaderContentType = "Content-Type"
	// HeaderMsgID is JetStream's idempotency key.
	HeaderMsgID = "Nats-Msg-Id"

	// The dead-letter headers. Every dead letter carries Reason, Class,
	// Subject, Deliveries, Stream, Sequence, Consumer and Time; MsgID when
	// the original had a Nats-Msg-Id, Truncated when the original payload
	// did not fit.
	HeaderDLQReason     = "Socialsync-Dlq-Reason"
	HeaderDLQClass      = "Socialsync-Dlq-Class"
	HeaderDLQSubject    = "Socialsync-Dlq-Subject"
	HeaderDLQDeliveries = "Socialsync-Dlq-Deliveries"
	HeaderDLQStream     = "Socialsync-Dlq-Stream"
	HeaderDLQSequence   = "Socialsync-Dlq-Sequence"
	HeaderDLQConsumer   = "Socialsync-Dlq-Consumer"
	HeaderDLQTime       = "Socialsync-Dlq-Time"
	HeaderDLQMsgID      = "Socialsync-Dlq-Msg-Id"
	HeaderDLQTruncated  = "Socialsync-Dlq-Truncated"
	// HeaderDLQItem names the item (a contact id, say) of a message that
	// failed alone while the rest of its message succeeded (DeadLetterItem).
	HeaderDLQItem = "Socialsync-Dlq-Item"

	// The replay headers (ReplayDeadLetter). HeaderReplayFor names the
	// durable that dead-lettered the original: every other durable reading
	// the subject acks the replay without handling it. HeaderOriginalMsgID
	// carries the first Nats-Msg-Id of the message, replay after replay,
	// for idempotency records (OriginalMsgID). HeaderReplayItem names the
	// one item to redo when an item's dead letter was replayed.
	HeaderReplayFor     = "Socialsync-Replay-For"
	HeaderOriginalMsgID = "Socialsync-Original-Msg-Id"
	HeaderReplayItem    = "Socialsync-Replay-Item"
)

// OriginalMsgID returns the id the message was first published under: its
// Socialsync-Original-Msg-Id when it is a replay, else its Nats-Msg-Id
// (empty when it has none). Records of work done for a message key on it,
// so that a replay does not redo what was done before the dead letter.
func OriginalMsgID(h nats.Header) string {
	if id := h.Get(HeaderOriginalMsgID); id != "" {
		return id
	}
	return h.Get(HeaderMsgID)
}

// ReplayItem returns the item a replayed item dead letter is about: the
// handler redoes that item only. ok is false for a whole message.
func ReplayItem(h nats.Header) (item string, ok bool) {
	item = h.Get(HeaderReplayItem)
	return item, item != ""
}

// lookup returns the first value of header key, matched without regard to
// case.
func lookup(h nats.Header, key string) string {
	if v := h.Get(key); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// headerCarrier adapts nats.Header to an OpenTelemetry TextMapCarrier.
// Set writes the key as the propagator spells it ("traceparent"); Get
// finds it in any case.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return lookup(nats.Header(c), key) }

func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
