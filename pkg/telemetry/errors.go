package telemetry

import "errors"

// ErrUnsupportedProtocol is returned by Setup when the OTLP protocol is not
// one of "http/protobuf", "http/json" or "grpc".
var ErrUnsupportedProtocol = errors.New("unsupported otlp protocol")

// ErrUnsupportedExporter is returned by Setup when the traces exporter is
// not "otlp" or "none".
var ErrUnsupportedExporter = errors.New("unsupported traces exporter")

// ErrInvalidEndpoint is returned by Setup when an OTLP endpoint is not an
// absolute http or https URL.
var ErrInvalidEndpoint = errors.New("invalid otlp endpoint")
