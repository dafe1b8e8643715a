package telemetry

import "errors"

// ErrUnsupportedProtocol is returned by Setup when the OTLP protocol is not
// one of "http/protobuf", "http/json" or "grpc", or is "http/json" for
// metrics, which the Go SDK cannot export that way.
var ErrUnsupportedProtocol = errors.New("unsupported otlp protocol")

// ErrUnsupportedExporter is returned by Setup when OTEL_TRACES_EXPORTER is
// not "otlp" or "none", or OTEL_METRICS_EXPORTER names anything but
// "otlp", "prometheus" and "none".
var ErrUnsupportedExporter = errors.New("unsupported exporter")

// ErrInvalidEndpoint is returned by Setup when an OTLP endpoint is not an
// absolute http or https URL.
var ErrInvalidEndpoint = errors.New("invalid otlp endpoint")
