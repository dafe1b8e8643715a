package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newTraceExporter returns the OTLP span exporter cfg asks for, or nil when
// no endpoint is configured or export is turned off.
//
// The endpoint is passed to the exporter explicitly (it may not have come
// from the environment); every other OTLP setting (headers, timeout, TLS,
// compression) is left for the exporter to read from OTEL_EXPORTER_OTLP_*.
func newTraceExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	switch strings.ToLower(strings.TrimSpace(cfg.TracesExporter)) {
	case "", "otlp":
	case "none":
		return nil, nil
	default:
		return nil, fmt.Errorf("%w %q: want otlp or none", ErrUnsupportedExporter, cfg.TracesExporter)
	}
	t, ok, err := resolveOTLP("traces", cfg.Endpoint, cfg.TracesEndpoint, cfg.Protocol, cfg.TracesProtocol)
	if err != nil || !ok {
		return nil, err
	}
	switch t.protocol {
	case ProtocolGRPC:
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(t.url))
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc trace exporter: %w", err)
		}
		return exp, nil
	default:
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(t.url)}
		if t.protocol == ProtocolHTTPJSON {
			opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("create otlp http trace exporter: %w", err)
		}
		return exp, nil
	}
}
