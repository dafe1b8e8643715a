package bustest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
)

// Msg is a message stored in a stream.
type Msg struct {
	Subject  string
	Sequence uint64
	Header   nats.Header
	Data     []byte
}

// Messages returns the messages of stream on subject (wildcards allowed;
// every subject when empty), oldest first.
func Messages(tb testing.TB, js jetstream.JetStream, stream, subject string) []Msg {
	tb.Helper()
	s, info := streamInfo(tb, js, stream)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []Msg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if subject == "" || subjectMatches(subject, m.Subject) {
			out = append(out, Msg{Subject: m.Subject, Sequence: m.Sequence, Header: m.Header, Data: m.Data})
		}
	}
	return out
}

// subjectMatches reports whether subject matches filter, whose tokens may
// be "*" (one token) or a final ">" (the rest).
func subjectMatches(filter, subject string) bool {
	f, s := splitTokens(filter), splitTokens(subject)
	for i, tok := range f {
		switch {
		case tok == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case tok != "*" && tok != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

func splitTokens(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// Decode decodes each message (protobuf, or protojson by its header) into a
// new M.
func Decode[M any, P interface {
	*M
	proto.Message
}](tb testing.TB, msgs []Msg) []P {
	tb.Helper()
	out := make([]P, 0, len(msgs))
	for _, m := range msgs {
		p := P(new(M))
		if err := bus.Unmarshal(m.Header, m.Data, p); err != nil {
			tb.Fatalf("decode %s: %v", m.Subject, err)
		}
		out = append(out, p)
	}
	return out
}

// DeadLetters returns the dead letters on subject (wildcards allowed; all
// when empty), oldest first.
func DeadLetters(tb testing.TB, js jetstream.JetStream, subject string) []bus.DeadLetter {
	tb.Helper()
	var out []bus.DeadLetter
	for _, m := range Messages(tb, js, bus.StreamDLQ, subject) {
		dl, err := bus.ParseDeadLetter(m.Subject, m.Header, m.Data)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

// ConsumerInfo returns the state of durable on stream.
func ConsumerInfo(tb testing.TB, js jetstream.JetStream, stream, durable string) *jetstream.ConsumerInfo {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return info
}

// Quiet reports whether durable on stream has nothing left to deliver or
// to be acknowledged.
func Quiet(tb testing.TB, js jetstream.JetStream, stream, durable string) bool {
	tb.Helper()
	info := ConsumerInfo(tb, js, stream, durable)
	return info.NumPending == 0 && info.NumAckPending == 0
}

// PublishRaw publishes data to subject with headers given as name, value
// pairs, as `nats pub` would: no Publisher, no checks.
func PublishRaw(tb testing.TB, js jetstream.JetStream, subject string, data []byte, header ...string) *jetstream.PubAck {
	tb.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	for i := 0; i+1 < len(header); i += 2 {
		msg.Header.Set(header[i], header[i+1])
	}
	ack, err := js.PublishMsg(context.Background(), msg)
	if err != nil {
		tb.Fatalf("publish %s: %v", subject, err)
	}
	return ack
}

// Marshal encodes m as protobuf.
func Marshal(tb testing.TB, m proto.Message) []byte {
	tb.Helper()
	b, err := bus.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Entry returns a key-value entry's value and revision; ok is false when
// the key does not exist (or was deleted).
func Entry(tb testing.TB, js jetstream.JetStream, bucket, key string) (value []byte, revision uint64, ok bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, bucket)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	return e.Value(), e.Revision(), true
}
