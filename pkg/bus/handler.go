package bus

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"
)

// Handler handles one consumed message. It returns nil when the message is
// done, and otherwise an error that the Consumer classifies (Classify) to
// ack, redeliver or dead-letter the message. A Handler does not ack, nak
// or term the message itself.
type Handler func(ctx context.Context, msg jetstream.Msg) error

// Middleware decorates a Handler.
type Middleware func(Handler) Handler

// Chain returns h decorated by mws, the first outermost:
// Chain(h, a, b) calls a, then b, then h.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Typed returns a Handler that decodes the message into a new M (see
// Decode) and calls fn with it, keeping nats.go out of the worker's code.
// A message that does not decode is bad input and becomes a dead letter.
//
//	h := bus.Typed(func(ctx context.Context, ev *socialsyncv1.PostEvent) error { … })
func Typed[M any, P interface {
	*M
	proto.Message
}](fn func(context.Context, P) error) Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		m := P(new(M))
		if _, err := Decode(msg, m); err != nil {
			return err
		}
		return fn(ctx, m)
	}
}

// Recover turns a panic in the handler into a *PanicError, so that the
// message is dead-lettered and the consumer keeps running. The Consumer
// always recovers; Recover is for handlers run elsewhere.
func Recover() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = &PanicError{Value: r, Stack: debug.Stack()}
				}
			}()
			return next(ctx, msg)
		}
	}
}

// Timeout bounds the handler's context to d. A handler that honours its
// context then fails with context.DeadlineExceeded, which is retryable.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, msg)
		}
	}
}

type loggerKey struct{}

// Log puts log, with the message's subject, location, stream sequence and
// delivery attempt as attributes, into the handler's context, for the
// handler to log with (LoggerFrom). It logs nothing itself: the Consumer
// logs each delivery's outcome once, when it settles it.
func Log(log *slog.Logger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			attrs := msgAttrs(msg)
			args := make([]any, len(attrs))
			for i, a := range attrs {
				args[i] = a
			}
			return next(context.WithValue(ctx, loggerKey{}, log.With(args...)), msg)
		}
	}
}

// LoggerFrom returns the logger Log put into ctx, or a logger that
// discards everything.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// Trace continues the W3C trace context of the message's headers
// (traceparent, tracestate) with a consumer span around the handler, so
// that the handler's context, and whatever the handler publishes with a
// Publisher, belong to the publisher's trace. A nil tp is
// otel.GetTracerProvider(); a nil prop is propagation.TraceContext{}.
func Trace(tp trace.TracerProvider, prop propagation.TextMapPropagator) Middleware {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	tracer := tp.Tracer(instrumentationName)
	return func(next Handler) Handler {
		return func(ctx context.Context, msg jetstream.Msg) error {
			ctx = prop.Extract(ctx, headerCarrier(msg.Headers()))
			family, loc, _ := ParseSubject(msg.Subject())
			name := "process " + string(family)
			if family == "" {
				name = "process"
			}
			ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer))
			defer span.End()
			if span.IsRecording() { // the attributes cost: only for sampled spans
				span.SetAttributes(consumeAttrs(msg, loc)...)
			}
			err := next(ctx, msg)
			if err != nil {
				class, _ := Classify(err)
				span.SetAttributes(attribute.String("error.type", class.String()))
				span.SetStatus(codes.Error, headerValue(err.Error(), 1024))
			}
			return err
		}
	}
}

// consumeAttrs returns the attributes of a consumer span.
func consumeAttrs(msg jetstream.Msg, loc string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", truncate(msg.Subject(), 256)),
	}
	if loc != "" {
		attrs = append(attrs, attribute.String("socialsync.location", loc))
	}
	if id := msg.Headers().Get(HeaderMsgID); id != "" {
		attrs = append(attrs, attribute.String("messaging.message.id", headerValue(id, 256)))
	}
	if meta, err := msg.Metadata(); err == nil {
		attrs = append(attrs,
			attribute.String("messaging.consumer.group.name", meta.Consumer),
			attribute.Int64("messaging.nats.stream.sequence", int64(meta.Sequence.Stream)),
			attribute.Int64("messaging.nats.delivery.attempt", int64(meta.NumDelivered)),
		)
	}
	return attrs
}

// msgAttrs returns the fixed log attributes of a message.
func msgAttrs(msg jetstream.Msg) []slog.Attr {
	attrs := []slog.Attr{slog.String("subject", truncate(msg.Subject(), 256))}
	if _, loc, err := ParseSubject(msg.Subject()); err == nil {
		attrs = append(attrs, slog.String("location", loc))
	}
	if meta, err := msg.Metadata(); err == nil {
		attrs = append(attrs, slog.Uint64("seq", meta.Sequence.Stream), slog.Uint64("attempt", meta.NumDelivered))
	}
	return attrs
}
