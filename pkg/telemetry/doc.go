// Package telemetry sets up OpenTelemetry tracing, metrics and structured
// logging for a socialsync process.
//
// Setup builds one SDK TracerProvider (spans always carry real trace ids,
// exported over OTLP only when an endpoint is configured), one
// MeterProvider read by a Prometheus exporter on a private registry (served
// by Telemetry.MetricsHandler at /metrics, always) and, when an endpoint is
// configured, by a periodic OTLP exporter, and the W3C TraceContext +
// Baggage propagator, and installs all three as the otel globals. The
// resource names the service, its version (Version) and a random
// service.instance.id. NewLogger returns a slog.Logger that stamps
// trace_id and span_id on records logged with a span in their context and
// drops anything that looks like a secret (see Redact). ServerSpans and
// HTTPHandler instrument an HTTP API: ServerSpans continues a caller's
// trace only when told the caller is trusted.
//
// The instruments themselves belong to the packages that record them:
// pkg/bus (messages handled, handling time, dead letters, consumer lag),
// pkg/ghl (HighLevel calls, 429s, rate headroom) and pkg/creds (token
// refreshes), each given Telemetry.MeterProvider by pkg/fleet.
//
// # Environment
//
// Nothing in this package calls os.Getenv. The binary's configuration struct
// fills Config, whose fields carry envconfig tags naming the standard
// variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL and its
// _TRACES_ and _METRICS_ forms, OTEL_TRACES_EXPORTER,
// OTEL_METRICS_EXPORTER), so embedding Config in that struct picks them up
// under their usual names (envconfig first tries the prefixed name, then the
// bare one).
//
// The OpenTelemetry SDK itself also reads the standard variables it owns,
// and they work as users expect:
//
//   - OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the resource
//     built from Config.ServiceName and Config.ServiceVersion;
//   - OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE,
//     _CLIENT_KEY, _CLIENT_CERTIFICATE and _INSECURE (and their _TRACES_
//     and _METRICS_ forms) configure the OTLP exporters;
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG choose the sampler;
//   - OTEL_METRIC_EXPORT_INTERVAL and OTEL_METRIC_EXPORT_TIMEOUT pace the
//     OTLP metric export;
//   - OTEL_BSP_* tune the batch span processor and OTEL_SPAN_*_LIMIT the
//     span limits.
//
// One deliberate difference from the specification: with no endpoint
// configured, spans and metrics are not exported to localhost:4318; spans
// are created, propagated and dropped, and metrics are served at /metrics
// only.
package telemetry
