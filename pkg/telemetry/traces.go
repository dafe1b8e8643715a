package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Protocols accepted in Config.Protocol and Config.TracesProtocol.
const (
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
	ProtocolGRPC         = "grpc"
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

	protocol := cfg.TracesProtocol
	if protocol == "" {
		protocol = cfg.Protocol
	}
	if protocol == "" {
		protocol = ProtocolHTTPProtobuf
	}

	endpoint, perSignal := cfg.TracesEndpoint, true
	if endpoint == "" {
		endpoint, perSignal = cfg.Endpoint, false
	}
	if endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The exporters would log the problem and fall back to localhost.
		return nil, fmt.Errorf("%w %q: want an http:// or https:// URL", ErrInvalidEndpoint, endpoint)
	}

	switch protocol {
	case ProtocolHTTPProtobuf, ProtocolHTTPJSON:
		if !perSignal {
			// A base URL gets the signal's path appended, as the
			// specification (and the exporter, for the same variable) does.
			u.Path = path.Join("/", u.Path, "v1/traces")
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(u.String())}
		if protocol == ProtocolHTTPJSON {
			opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("create otlp http trace exporter: %w", err)
		}
		return exp, nil
	case ProtocolGRPC:
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()))
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc trace exporter: %w", err)
		}
		return exp, nil
	default:
		return nil, fmt.Errorf("%w %q: want %s, %s or %s", ErrUnsupportedProtocol, protocol,
			ProtocolHTTPProtobuf, ProtocolHTTPJSON, ProtocolGRPC)
	}
}
