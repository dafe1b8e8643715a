package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// newMetrics builds a meter provider read by a Prometheus exporter that
// registers on a registry of its own, and the handler serving it, plus a
// periodic OTLP exporter when cfg asks for one. A private registry keeps
// two Setups in one process (tests) from colliding and keeps libraries
// that register on the client_golang default out of /metrics.
//
// Every instrument keeps at most the SDK's default of 2000 attribute sets;
// past that, new sets are folded into one with otel.metric.overflow=true.
func newMetrics(ctx context.Context, cfg Config, res *resource.Resource) (*sdkmetric.MeterProvider, http.Handler, *prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, nil, nil, fmt.Errorf("register runtime collector: %w", err)
		}
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create prometheus exporter: %w", err)
	}
	opts := []sdkmetric.Option{sdkmetric.WithReader(exp), sdkmetric.WithResource(res)}
	push, err := newMetricExporter(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if push != nil {
		// OTEL_METRIC_EXPORT_INTERVAL and _TIMEOUT (60s and 30s by
		// default) are read by the reader itself.
		opts = append(opts, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(push)))
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	h := promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// One broken collector should not blank the whole page.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mp, h, reg, nil
}

// newMetricExporter returns the OTLP metric exporter cfg asks for, or nil
// when no endpoint is configured or OTEL_METRICS_EXPORTER does not name
// otlp. As for spans, only the endpoint is passed explicitly; the exporter
// reads the other OTEL_EXPORTER_OTLP_* settings itself.
func newMetricExporter(ctx context.Context, cfg Config) (sdkmetric.Exporter, error) {
	names := exporterList(cfg.MetricsExporter)
	for _, n := range names {
		switch n {
		case "otlp", "prometheus", "none":
		default:
			return nil, fmt.Errorf("%w %q in OTEL_METRICS_EXPORTER: want otlp, prometheus or none", ErrUnsupportedExporter, n)
		}
	}
	if len(names) > 0 && !slices.Contains(names, "otlp") {
		return nil, nil
	}
	t, ok, err := resolveOTLP("metrics", cfg.Endpoint, cfg.MetricsEndpoint, cfg.Protocol, cfg.MetricsProtocol)
	if err != nil || !ok {
		return nil, err
	}
	switch t.protocol {
	case ProtocolGRPC:
		exp, err := otlpmetricgrpc.New(ctx, otlpmetricgrpc.WithEndpointURL(t.url))
		if err != nil {
			return nil, fmt.Errorf("create otlp grpc metric exporter: %w", err)
		}
		return exp, nil
	case ProtocolHTTPJSON:
		return nil, fmt.Errorf("%w %q for metrics: the Go SDK exports metrics as http/protobuf or grpc; "+
			"set OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", ErrUnsupportedProtocol, t.protocol)
	default:
		exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(t.url))
		if err != nil {
			return nil, fmt.Errorf("create otlp http metric exporter: %w", err)
		}
		return exp, nil
	}
}
