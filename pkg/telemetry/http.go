package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// HTTPHandler wraps h, a process's HTTP API (the gateway's webhooks and
// REST API), so that every request is a server span that continues the
// caller's W3C trace context (traceparent, tracestate): a trigger published
// while handling it, with a bus.Publisher and the request's context,
// belongs to the caller's trace. The span is named after the route pattern
// that http.ServeMux matched ("POST /webhooks/{source}"), never the raw
// path, and the request metrics (http_server_request_duration_seconds and
// friends) go to /metrics with the route as label. name names the server
// (its spans' default name before routing).
func (t *Telemetry) HTTPHandler(name string, h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, name,
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithMeterProvider(t.mp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithSpanNameFormatter(func(operation string, r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method + " " + operation
		}),
	)
}
