package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func TestChainOrder(t *testing.T) {
	t.Parallel()
	var calls []string
	mw := func(name string) bus.Middleware {
		return func(next bus.Handler) bus.Handler {
			return func(ctx context.Context, msg jetstream.Msg) error {
				calls = append(calls, name)
				return next(ctx, msg)
			}
		}
	}
	h := bus.Chain(func(context.Context, jetstream.Msg) error {
		calls = append(calls, "handler")
		return nil
	}, mw("a"), mw("b"))
	if err := h(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, ","); got != "a,b,handler" {
		t.Errorf("call order %s, want a,b,handler", got)
	}
}

func TestTimeoutAndRecover(t *testing.T) {
	t.Parallel()
	h := bus.Chain(func(ctx context.Context, _ jetstream.Msg) error {
		<-ctx.Done()
		return ctx.Err()
	}, bus.Timeout(20*time.Millisecond))
	if err := h(context.Background(), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Timeout: handler returned %v, want deadline exceeded", err)
	}
	p := bus.Chain(func(context.Context, jetstream.Msg) error { panic("boom") }, bus.Recover())
	err := p(context.Background(), nil)
	var pe *bus.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("Recover returned %v, want a PanicError with value and stack", err)
	}
}

func TestTraceContinuesPublishersTrace(t *testing.T) {
	t.Parallel()
	js, topo := bustest.Setup(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	log, logs := newLogger()
	pub := bus.NewPublisher(js, bus.PublisherOptions{TracerProvider: tp})

	handlerTrace := make(chan trace.TraceID, 2)
	h := bus.Typed(func(ctx context.Context, ev *socialsyncv1.PostEvent) error {
		handlerTrace <- trace.SpanContextFromContext(ctx).TraceID()
		bus.LoggerFrom(ctx).InfoContext(ctx, "inside handler")
		subject, _ := topology.ContactEvents.Subject(ev.LocationId)
		_, err := pub.Publish(ctx, subject, &socialsyncv1.ContactTagsChanged{LocationId: ev.LocationId, ContactId: "c1", Reason: "post " + ev.PostId})
		return err
	})
	run(t, js, spec(t, topo, topology.StreamTriggers, topology.DurableContactSync), h, bus.ConsumerOptions{
		Middleware: []bus.Middleware{bus.Trace(tp, propagation.TraceContext{}), bus.Log(log)},
	})

	// As `nats pub -H traceparent:...` would send it, in either spelling.
	const (
		traceID = "0af7651916cd43dd8448eb211c80319c"
		spanID  = "b7ad6b7169203331"
	)
	for i, key := range []string{"traceparent", "Traceparent"} {
		data := postBytes(t, &socialsyncv1.PostEvent{LocationId: "loc1", PostId: []string{"p1", "p2"}[i]})
		publishRaw(t, js, "socialsync.trigger.post.loc1", data, key, "00-"+traceID+"-"+spanID+"-01")
		select {
		case got := <-handlerTrace:
			if got.String() != traceID {
				t.Errorf("%s: handler's trace id %s, want %s", key, got, traceID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: handler not called", key)
		}
	}

	// What the handler published carries the trace on.
	bustest.WaitFor(t, 5*time.Second, "published events", func() bool { return bustest.StreamMsgs(t, js, topology.StreamEvents) == 2 })
	for _, m := range bustest.Messages(t, js, topology.StreamEvents, "") {
		if tp := m.Header.Get("traceparent"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
			t.Errorf("event published in the handler has traceparent %q, want trace %s", tp, traceID)
		}
	}

	var consumerSpans int
	for _, s := range exp.GetSpans() {
		if s.SpanKind != trace.SpanKindConsumer {
			continue
		}
		consumerSpans++
		if s.Name != "process socialsync.trigger.post" || s.Parent.SpanID().String() != spanID || !s.Parent.IsRemote() {
			t.Errorf("consumer span %q with parent %s (remote %v), want process socialsync.trigger.post under %s", s.Name, s.Parent.SpanID(), s.Parent.IsRemote(), spanID)
		}
	}
	if consumerSpans != 2 {
		t.Errorf("%d consumer spans, want 2", consumerSpans)
	}
	if out := logs.String(); !strings.Contains(out, `"msg":"inside handler"`) || !strings.Contains(out, `"location":"loc1"`) {
		t.Errorf("handler's logger lacks the message attributes:\n%s", out)
	}
}
