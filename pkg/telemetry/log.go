package telemetry

import (
	"context"
	"io"
	"log/slog"
	"slices"

	"go.opentelemetry.io/otel/trace"
)

// Attribute keys the handler adds to records logged with a span in their
// context.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogger returns a logger writing one record a line to w, as JSON when
// format is "json" and as logfmt-style text when it is "text"; any other
// format means JSON. Records below level are discarded. The handler is
// NewHandler over a standard one whose ReplaceAttr is Redact: records logged
// with a span in their context get trace_id and span_id, and secrets are
// kept out.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: Redact}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(NewHandler(h))
}

// NewHandler wraps h with two duties. Records whose context carries a valid
// span context get TraceIDKey and SpanIDKey, at the top level even under
// Logger.WithGroup, where log pipelines look for them. Attributes and groups
// whose key IsSecret are removed before h sees them, as is everything logged
// under a WithGroup whose name IsSecret. Values are left to h's
// ReplaceAttr (see Redact).
func NewHandler(h slog.Handler) slog.Handler {
	return &handler{root: h, h: h}
}

type handler struct {
	// root is the wrapped handler with every attribute added before the
	// first WithGroup: the ids are added to it when a group is open.
	root slog.Handler
	// after replays, in order, the WithGroup and WithAttrs calls made
	// since the first group.
	after []func(slog.Handler) slog.Handler
	// h is root with after applied: the handler records go to.
	h slog.Handler
	// discard is set under a secret-named group: no attribute logged
	// there is shown.
	discard bool
}

func (t *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.h.Enabled(ctx, l)
}

func (t *handler) Handle(ctx context.Context, r slog.Record) error {
	if t.discard {
		r = slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	} else if needsRemoval(r) {
		var attrs []slog.Attr
		r.Attrs(func(a slog.Attr) bool {
			attrs = append(attrs, a)
			return true
		})
		attrs, _ = removeSecrets(attrs)
		r = slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
		r.AddAttrs(attrs...)
	}

	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return t.h.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(TraceIDKey, sc.TraceID().String()),
		slog.String(SpanIDKey, sc.SpanID().String()),
	}
	if len(t.after) == 0 {
		r.AddAttrs(ids...)
		return t.h.Handle(ctx, r)
	}
	// Attributes of the record would land inside the open group; rebuild
	// the chain with the ids below it instead. Groups are rare in this
	// code base, so the extra work stays off the common path.
	h := t.root.WithAttrs(ids)
	for _, f := range t.after {
		h = f(h)
	}
	return h.Handle(ctx, r)
}

// needsRemoval reports whether any attribute of r may hold a secret, without
// allocating.
func needsRemoval(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = mayNeedRemoval(a)
		return !found
	})
	return found
}

func (t *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if t.discard {
		return t
	}
	attrs, _ = removeSecrets(attrs)
	if len(attrs) == 0 {
		return t
	}
	if len(t.after) == 0 {
		h := t.root.WithAttrs(attrs)
		return &handler{root: h, h: h}
	}
	return &handler{
		root:  t.root,
		after: append(slices.Clip(t.after), func(h slog.Handler) slog.Handler { return h.WithAttrs(attrs) }),
		h:     t.h.WithAttrs(attrs),
	}
}

func (t *handler) WithGroup(name string) slog.Handler {
	if name == "" || t.discard {
		return t
	}
	if IsSecret(name) {
		return &handler{root: t.root, after: t.after, h: t.h, discard: true}
	}
	return &handler{
		root:  t.root,
		after: append(slices.Clip(t.after), func(h slog.Handler) slog.Handler { return h.WithGroup(name) }),
		h:     t.h.WithGroup(name),
	}
}
