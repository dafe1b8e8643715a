package bus_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestSecretsStayOutOfLogsSpansAndDeadLetters(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	log, logs := newLogger()
	var got outcomes

	secrets := []string{
		"at-5f1c0e9a77d2", // in an access_token=… pair
		"br-91e2d7c4a0b3", // a bearer token
		"pit-0b6e7a4e-1f2a-4c3d-9e8f-0a1b2c3d4e5f",
		"hdr-6a0d3e1f88c2", // in an Authorization header
		"hdr-0c9b2a7e5d41", // in an X-Refresh-Token header
		"hdr-3e8f1d2c6b70", // in a key=value inside an innocent header
	}
	h := func(ctx context.Context, msg jetstream.Msg) error {
		return bus.Permanent(fmt.Errorf("refresh for loc1: access_token=%s; Authorization: Bearer %s; token %s rejected", secrets[0], secrets[1], secrets[2]))
	}
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{
		Middleware: []bus.Middleware{bus.Trace(tp, propagation.TraceContext{}), bus.Log(log)},
		Logger:     log,
		OnSettle:   got.add,
	})
	data := postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"})
	publishRaw(t, js, "socialsync.trigger.post.loc1", data,
		"Authorization", "Bearer "+secrets[3],
		"X-Refresh-Token", secrets[4],
		"X-Note", "client_secret="+secrets[5],
		"X-Source", "webhook")

	dls := deadLetters(t, js, 1)
	raw := bustest.Messages(t, js, bus.StreamDLQ, "")[0]
	var headers strings.Builder
	for k, vs := range raw.Header {
		fmt.Fprintf(&headers, "%s: %s\n", k, strings.Join(vs, ", "))
	}
	var spans strings.Builder
	for _, s := range exp.GetSpans() {
		fmt.Fprintf(&spans, "%s %v %q\n", s.Name, s.Status, s.Status.Description)
		for _, a := range s.Attributes {
			fmt.Fprintf(&spans, "  %s=%s\n", a.Key, a.Value.Emit())
		}
		for _, e := range s.Events {
			fmt.Fprintf(&spans, "  event %s %v\n", e.Name, e.Attributes)
		}
	}
	bustest.WaitFor(t, 5*time.Second, "outcome", func() bool { return len(got.list()) == 1 })
	outputs := map[string]string{
		"dead-letter headers": headers.String(),
		"log":                 logs.String(),
		"spans":               spans.String(),
		"outcome reason":      got.list()[0].Reason,
	}
	for where, text := range outputs {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s holds secret %q:\n%s", where, s, text)
			}
		}
	}
	// What is not a secret is kept.
	if dls[0].Header.Get("X-Source") != "webhook" || dls[0].Header.Get("Authorization") != "" {
		t.Errorf("dead letter headers %v: want X-Source kept, Authorization dropped", dls[0].Header)
	}
	if !strings.Contains(dls[0].Reason, "refresh for loc1") || !strings.Contains(logs.String(), "message dead-lettered") {
		t.Errorf("the reason lost its meaning: %q", dls[0].Reason)
	}
}

func TestDeadLetterOfHugeMessageKeepsHeaders(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), bus.Typed(func(context.Context, *socialsyncv1.PostEvent) error { return nil }), bus.ConsumerOptions{})
	// The largest message the server takes; with dead-letter headers it no
	// longer fits.
	size := int(js.Conn().MaxPayload()) - 200
	publishRaw(t, js, "socialsync.trigger.post.loc1", []byte(strings.Repeat("\xff", size)))
	dl := deadLetters(t, js, 1)[0]
	if !dl.Truncated || len(dl.Data) != 0 || dl.Class != "bad_input" {
		t.Errorf("dead letter: truncated %v, %d bytes, class %q; want truncated, empty, bad_input", dl.Truncated, len(dl.Data), dl.Class)
	}
}

func TestFailedDeadLetterKeepsTheMessage(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	ctx := bustest.Context(t)
	// No dead-letter stream: the dead letter cannot be stored.
	if err := js.DeleteStream(ctx, bus.StreamDLQ); err != nil {
		t.Fatal(err)
	}
	var got outcomes
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), func(context.Context, jetstream.Msg) error {
		return bus.Permanent(fmt.Errorf("post gone"))
	}, bus.ConsumerOptions{Backoff: bus.Backoff{Initial: 200 * time.Millisecond}, SettleTimeout: time.Second, OnSettle: got.add})
	publishRaw(t, js, "socialsync.trigger.post.loc1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}))

	bustest.WaitFor(t, 10*time.Second, "first settlement", func() bool { return len(got.list()) >= 1 })
	first := got.list()[0]
	if first.Decision.Action != bus.ActionNak || first.SettleErr == nil || first.DeadLetter != "" {
		t.Fatalf("first outcome %+v: want a nak with the dead-letter error", first)
	}
	// The stream is back: the next delivery leaves the dead letter.
	if err := topo.Ensure(ctx, js); err != nil {
		t.Fatal(err)
	}
	dls := deadLetters(t, js, 1)
	if dls[0].Class != "permanent" || dls[0].Deliveries < 2 {
		t.Errorf("dead letter class %q after %d deliveries; want permanent after at least 2", dls[0].Class, dls[0].Deliveries)
	}
}

// Dead letters of single items: one per item, none for the message, and a
// redelivery does not send them twice.
func TestDeadLetterItem(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	var got outcomes
	h := func(ctx context.Context, msg jetstream.Msg) error {
		for _, item := range []string{"contact a", "contact b"} {
			subject, err := bus.DeadLetterItem(ctx, js, "contactsync", msg, item, bus.ClassPermanent, "contact is deleted")
			if err != nil || subject != "socialsync.dlq.contactsync.loc1" {
				return bus.Permanent(fmt.Errorf("DeadLetterItem = %q, %v", subject, err))
			}
		}
		if meta, _ := msg.Metadata(); meta.NumDelivered == 1 {
			return bus.RetryAfter(fmt.Errorf("other items not done"), 50*time.Millisecond)
		}
		return nil
	}
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{OnSettle: got.add})
	publishRaw(t, js, "socialsync.trigger.post.loc1", postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1"}),
		"Nats-Msg-Id", "ev1", "X-Source", "webhook")

	bustest.WaitFor(t, 10*time.Second, "two deliveries", func() bool { return len(got.list()) == 2 })
	if last := got.list()[1]; last.Decision.Action != bus.ActionAck || last.DeadLetter != "" {
		t.Fatalf("second delivery: %+v, want an ack without a dead letter", last)
	}
	dls := deadLetters(t, js, 2)
	for i, want := range []string{"contact a", "contact b"} {
		dl := dls[i]
		if dl.Reason != want+": contact is deleted" || dl.Class != "permanent" || dl.OriginalSubject != "socialsync.trigger.post.loc1" ||
			dl.Deliveries != 1 || dl.MsgID != "ev1" || dl.Header.Get("X-Source") != "webhook" {
			t.Errorf("dead letter %d: %+v", i, dl)
		}
		if dl.Item != want {
			t.Errorf("dead letter %d: item %q, want %q", i, dl.Item, want)
		}
		var ev socialsyncv1.PostEvent
		if err := bus.Unmarshal(dl.Header, dl.Data, &ev); err != nil || ev.GetPostId() != "p1" {
			t.Errorf("dead letter %d: payload %v, %v; want the original post event", i, &ev, err)
		}
	}
}
