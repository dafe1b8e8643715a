package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestPublishMsgID(t *testing.T) {
	t.Parallel()
	js, _ := bustest.Setup(t)
	ctx := bustest.Context(t)
	pub := bus.NewPublisher(js, bus.PublisherOptions{})
	at := timestamppb.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))

	post := &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p1", EventId: "evt-42", OccurredAt: at}
	tag := &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "t1", TagName: "summer", Change: socialsyncv1.Change_CHANGE_CREATED, Timestamp: at}
	renamed := &socialsyncv1.TagChanged{LocationId: "loc1", TagId: "t1", TagName: "autumn", Change: socialsyncv1.Change_CHANGE_RENAMED, Timestamp: at}
	tagSubject, _ := topology.TagEvents.Subject("loc1")
	postSubject, _ := topology.PostTriggers.Subject("loc1")
	derived, err := bus.MsgID(tagSubject, tag)
	if err != nil {
		t.Fatal(err)
	}
	derivedRenamed, _ := bus.MsgID(tagSubject, renamed)
	if derived == derivedRenamed {
		t.Fatal("different content derived the same id")
	}

	check := func(name, subject string, m proto.Message, wantID string, wantDup bool, opts ...bus.PublishOption) {
		t.Helper()
		ack, err := pub.Publish(ctx, subject, m, opts...)
		if err != nil {
			t.Fatalf("%s: publish: %v", name, err)
		}
		if ack.Duplicate != wantDup {
			t.Errorf("%s: PubAck.Duplicate = %v, want %v", name, ack.Duplicate, wantDup)
		}
		if ack.Duplicate {
			return
		}
		s, err := js.Stream(ctx, mustStream(t, js, subject))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.GetMsg(ctx, ack.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if got := stored.Header.Get("Nats-Msg-Id"); got != wantID {
			t.Errorf("%s: Nats-Msg-Id = %q, want %q", name, got, wantID)
		}
		if got := stored.Header.Get("Content-Type"); got != bus.ContentTypeProtobuf {
			t.Errorf("%s: Content-Type = %q", name, got)
		}
	}

	check("event id", postSubject, post, "evt-42", false)
	check("same event id, other content", postSubject, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: "p2", EventId: "evt-42"}, "", true)
	check("derived", tagSubject, tag, derived, false)
	check("derived again", tagSubject, tag, "", true)
	check("derived, other content", tagSubject, renamed, derivedRenamed, false)
	check("explicit id", tagSubject, tag, "tag:loc1:t1:created", false, bus.WithMsgID("tag:loc1:t1:created"))

	if n := bustest.StreamMsgs(t, js, topology.StreamEvents); n != 3 {
		t.Errorf("events stream holds %d messages, want 3", n)
	}
}

// mustStream returns the stream that stores subject.
func mustStream(t testing.TB, js interface {
	StreamNameBySubject(context.Context, string) (string, error)
}, subject string) string {
	t.Helper()
	name, err := js.StreamNameBySubject(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func TestPublishRejectsBadLocation(t *testing.T) {
	t.Parallel()
	js, _ := bustest.Setup(t)
	ctx := bustest.Context(t)
	pub := bus.NewPublisher(js, bus.PublisherOptions{Known: topology.Known})
	tests := []struct {
		name    string
		subject string
		msg     *socialsyncv1.PostEvent
		wantErr error
	}{
		{"bad location in subject", "socialsync.trigger.post.bad-loc", &socialsyncv1.PostEvent{LocationId: "bad-loc"}, bus.ErrInvalidLocation},
		{"unknown subject", "socialsync.nope.loc1", &socialsyncv1.PostEvent{LocationId: "loc1"}, bus.ErrUnknownSubject},
		{"family the topology does not declare", "socialsync.trigger.nope.loc1", &socialsyncv1.PostEvent{LocationId: "loc1"}, bus.ErrUnknownSubject},
		{"no family", "loc1", &socialsyncv1.PostEvent{LocationId: "loc1"}, bus.ErrUnknownSubject},
		{"mismatch", "socialsync.trigger.post.loc1", &socialsyncv1.PostEvent{LocationId: "loc2"}, bus.ErrLocationMismatch},
		{"empty location", "socialsync.trigger.post.loc1", &socialsyncv1.PostEvent{PostId: "p"}, bus.ErrLocationMismatch},
	}
	for _, tt := range tests {
		if _, err := pub.Publish(ctx, tt.subject, tt.msg); !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: Publish error = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
	if n := bustest.StreamMsgs(t, js, topology.StreamTriggers); n != 0 {
		t.Errorf("triggers stream holds %d messages after rejected publishes", n)
	}
}

func TestPublishInjectsTraceContext(t *testing.T) {
	t.Parallel()
	js, _ := bustest.Setup(t)
	ctx := bustest.Context(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	pub := bus.NewPublisher(js, bus.PublisherOptions{TracerProvider: tp, Propagator: propagation.TraceContext{}})

	ctx, parent := tp.Tracer("test").Start(ctx, "parent")
	subject, _ := topology.ContactEvents.Subject("loc1")
	ack, err := pub.Publish(ctx, subject, &socialsyncv1.ContactTagsChanged{LocationId: "loc1", ContactId: "c1", Added: []string{"x"}})
	parent.End()
	if err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, topology.StreamEvents)
	stored, err := s.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	got := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {stored.Header.Get("traceparent")}})
	if tid := trace.SpanContextFromContext(got).TraceID(); tid != parent.SpanContext().TraceID() {
		t.Errorf("traceparent %q carries trace %s, want %s", stored.Header.Get("traceparent"), tid, parent.SpanContext().TraceID())
	}
	var names []string
	for _, sp := range exp.GetSpans() {
		names = append(names, sp.Name)
	}
	if len(names) != 2 || names[0] != "send socialsync.event.contact" {
		t.Errorf("spans = %v, want the producer span then the parent", names)
	}
}
