package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Config configures Setup. The envconfig tags let a binary embed Config in
// its own configuration struct; the fields marked ignored are set in code.
type Config struct {
	// ServiceName is the resource's service.name, such as "fetcher";
	// "socialsync" when empty. OTEL_SERVICE_NAME overrides it.
	ServiceName string `ignored:"true"`
	// ServiceVersion is the resource's service.version; Version() when
	// empty.
	ServiceVersion string `ignored:"true"`

	// Endpoint is the OTLP base URL, such as http://otel-collector:4318 for
	// HTTP (spans go to its path + /v1/traces) or http://otel-collector:4317
	// for gRPC. With neither Endpoint nor TracesEndpoint set, no span is
	// exported.
	Endpoint string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT" desc:"OTLP collector base URL; traces are exported only when set"`
	// TracesEndpoint is the full URL spans are sent to, used as is. It wins
	// over Endpoint.
	TracesEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" desc:"OTLP traces URL, used as is (wins over the base URL)"`
	// Protocol is "http/protobuf" (the default), "http/json" or "grpc".
	Protocol string `envconfig:"OTEL_EXPORTER_OTLP_PROTOCOL" desc:"OTLP protocol: http/protobuf, http/json or grpc"`
	// TracesProtocol wins over Protocol for traces.
	TracesProtocol string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" desc:"OTLP protocol for traces (wins over the general one)"`
	// TracesExporter is "otlp" (the default) or "none", which turns export
	// off even with an endpoint configured.
	TracesExporter string `envconfig:"OTEL_TRACES_EXPORTER" desc:"otlp or none"`

	// MetricsEndpoint is the full URL metrics are pushed to, used as is.
	// It wins over Endpoint. With neither set, no metric is pushed; /metrics
	// serves them all the same.
	MetricsEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" desc:"OTLP metrics URL, used as is (wins over the base URL)"`
	// MetricsProtocol wins over Protocol for metrics: "http/protobuf" or
	// "grpc" (the Go SDK has no http/json metric exporter).
	MetricsProtocol string `envconfig:"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL" desc:"OTLP protocol for metrics: http/protobuf or grpc"`
	// MetricsExporter lists the metric exporters, comma-separated: "otlp"
	// (the default) pushes to the OTLP endpoint when one is set,
	// "prometheus" and "none" push nothing. MetricsHandler serves /metrics
	// whatever it says.
	MetricsExporter string `envconfig:"OTEL_METRICS_EXPORTER" desc:"otlp, prometheus or none (comma-separated); /metrics is always served"`

	// Log receives the errors the OpenTelemetry SDK reports in the
	// background, such as a failed export. When nil they go to the SDK's
	// default handler (standard error).
	Log *slog.Logger `ignored:"true"`
	// SpanProcessor, when set, also receives every span, beside the OTLP
	// exporter: a test's tracetest.SpanRecorder, for instance.
	SpanProcessor sdktrace.SpanProcessor `ignored:"true"`
}

// Telemetry holds the providers Setup built. Its methods are safe for
// concurrent use.
type Telemetry struct {
	tp      *sdktrace.TracerProvider
	mp      *sdkmetric.MeterProvider
	prop    propagation.TextMapPropagator
	metrics http.Handler
	// registry is what metrics serves (Samples reads it).
	registry *prometheus.Registry

	shutdownOnce sync.Once
	shutdownErr  error
}

// Setup builds the process's tracer provider, meter provider and propagator
// and installs them as the otel globals (otel.SetTracerProvider,
// otel.SetMeterProvider, otel.SetTextMapPropagator, and
// otel.SetErrorHandler when cfg.Log is set). Call Shutdown before exiting
// to flush buffered spans.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}

	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	exp, err := newTraceExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if exp != nil {
		traceOpts = append(traceOpts, sdktrace.WithBatcher(exp))
	}
	if cfg.SpanProcessor != nil {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(cfg.SpanProcessor))
	}
	tp := sdktrace.NewTracerProvider(traceOpts...)

	mp, metrics, reg, err := newMetrics(ctx, cfg, res)
	if err != nil {
		return nil, errors.Join(err, tp.Shutdown(ctx))
	}

	t := &Telemetry{
		tp:       tp,
		mp:       mp,
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		metrics:  metrics,
		registry: reg,
	}
	if cfg.Log != nil {
		log := cfg.Log
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("telemetry error", "err", err)
		}))
	}
	otel.SetTracerProvider(t.tp)
	otel.SetMeterProvider(t.mp)
	otel.SetTextMapPropagator(t.prop)
	return t, nil
}

// newResource describes the process. Later sources win: the service name,
// version (Version() when Config has none) and a random
// service.instance.id, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME
// as read by the SDK (so a pod can name its instance with
// OTEL_RESOURCE_ATTRIBUTES=service.instance.id=$(POD_NAME)).
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = "socialsync"
	}
	version := cfg.ServiceVersion
	if version == "" {
		version = Version()
	}
	res, err := resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(name),
			semconv.ServiceVersion(version),
			semconv.ServiceInstanceID(uuid.NewString()),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES is worth stopping for: the
		// operator asked for attributes they would silently not get.
		return nil, fmt.Errorf("build telemetry resource: %w", err)
	}
	return res, nil
}

// TracerProvider returns the SDK tracer provider, for components that take
// one explicitly rather than reading the global.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tp }

// MeterProvider returns the meter provider whose instruments MetricsHandler
// serves.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.mp }

// Propagator returns the W3C TraceContext + Baggage propagator, the same one
// installed as the global.
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.prop }

// MetricsHandler serves the process's metrics in the Prometheus exposition
// format: every instrument of MeterProvider plus the Go runtime and process
// collectors. It reads a private registry, not the client_golang default.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Shutdown flushes buffered spans and metrics to the exporters and stops
// both providers, giving up when ctx ends. Later calls return the first
// call's result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		var errs []error
		if err := t.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down tracer provider: %w", err))
		}
		if err := t.mp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down meter provider: %w", err))
		}
		t.shutdownErr = errors.Join(errs...)
	})
	return t.shutdownErr
}
