package telemetry

import (
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
)

// HTTPHandler wraps h, an HTTP API whose every caller is trusted, so that
// every request is a server span that continues the caller's W3C trace
// context (traceparent, tracestate): a message published while handling
// it, with a bus.Publisher and the request's context, belongs to the
// caller's trace. See ServerSpans for the spans of an API whose callers
// are trusted only once they have authenticated.
func (t *Telemetry) HTTPHandler(name string, h http.Handler) http.Handler {
	s := t.ServerSpans(name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Serve(w, r, h, true, time.Time{})
	})
}

// ServerSpans starts the server spans of an HTTP API (the gateway's
// webhooks and REST API). A span is named after the route pattern that
// http.ServeMux matched ("POST /webhooks/{source}"), never the raw path,
// and the request metrics (http_server_request_duration_seconds and
// friends) go to /metrics with the route as label. Its zero value is not
// usable: build one with Telemetry.ServerSpans.
type ServerSpans struct {
	trusted, untrusted func(http.Handler) http.Handler
}

// ServerSpans returns the server spans of the HTTP server called name
// (its spans' default name before routing).
func (t *Telemetry) ServerSpans(name string) ServerSpans {
	opts := func(prop propagation.TextMapPropagator, more ...otelhttp.Option) []otelhttp.Option {
		return append([]otelhttp.Option{
			otelhttp.WithTracerProvider(t.tp),
			otelhttp.WithMeterProvider(t.mp),
			otelhttp.WithPropagators(prop),
			otelhttp.WithSpanNameFormatter(func(operation string, r *http.Request) string {
				if r.Pattern != "" {
					return r.Pattern
				}
				return r.Method + " " + operation
			}),
		}, more...)
	}
	return ServerSpans{
		trusted: otelhttp.NewMiddleware(name, opts(t.prop)...),
		// Only the trace context is read from an untrusted caller, to link
		// to: its baggage would otherwise travel on with everything the
		// request publishes.
		untrusted: otelhttp.NewMiddleware(name, opts(propagation.TraceContext{},
			otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))...),
	}
}

// Serve serves r with h inside a server span. When trusted, the span
// continues the caller's W3C trace context (traceparent, tracestate) and
// baggage. Otherwise it is the root of a new trace, linked to the caller's
// span context when the caller sent a valid one, and the caller's baggage
// is dropped. Either way a message published with the request's context
// belongs to the span's trace.
//
// The span and the request's duration begin at start when it is not zero:
// the moment the request arrived, before the work (checking a key, reading
// and verifying a signed body) that decided whether to trust it.
func (s ServerSpans) Serve(w http.ResponseWriter, r *http.Request, h http.Handler, trusted bool, start time.Time) {
	if !start.IsZero() {
		r = r.WithContext(otelhttp.ContextWithStartTime(r.Context(), start))
	}
	mw := s.untrusted
	if trusted {
		mw = s.trusted
	}
	mw(h).ServeHTTP(w, r)
}
