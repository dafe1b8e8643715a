package telemetry_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup calls telemetry.Setup and shuts it down when the test ends.
func setup(t testing.TB, cfg telemetry.Config) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Setup(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

func TestSetupWithoutEndpointMakesRealSpans(t *testing.T) {
	tel := setup(t, telemetry.Config{ServiceName: "fetcher", ServiceVersion: "v0.0.1"})

	ctx, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "parent")
	defer span.End()
	sc := span.SpanContext()
	if !sc.IsValid() || !sc.IsSampled() {
		t.Fatalf("span context %+v: want a valid, sampled one", sc)
	}

	// The global tracer provider is the same one: spans started through it
	// continue the trace.
	_, child := otel.Tracer("test").Start(ctx, "child")
	defer child.End()
	if got, want := child.SpanContext().TraceID(), sc.TraceID(); got != want {
		t.Errorf("child trace id %s, want the parent's %s", got, want)
	}

	// Both propagators, returned and global, write W3C trace context and
	// baggage.
	member, err := baggage.NewMember("location", "loc1")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	ctx = baggage.ContextWithBaggage(ctx, bag)
	for name, p := range map[string]propagation.TextMapPropagator{
		"returned": tel.Propagator(),
		"global":   otel.GetTextMapPropagator(),
	} {
		carrier := propagation.MapCarrier{}
		p.Inject(ctx, carrier)
		want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
		if got := carrier.Get("traceparent"); got != want {
			t.Errorf("%s propagator: traceparent %q, want %q", name, got, want)
		}
		if got := carrier.Get("baggage"); got != "location=loc1" {
			t.Errorf("%s propagator: baggage %q, want %q", name, got, "location=loc1")
		}
	}
}

// otlpRequest is what the fake collector saw of one export.
type otlpRequest struct {
	Method      string
	Path        string
	ContentType string
	Spans       []string
	Service     string
}

// collector is an OTLP/HTTP endpoint that records the requests it gets.
type collector struct {
	URL string

	mu   sync.Mutex
	reqs []otlpRequest
	errs []error
}

func newCollector(t testing.TB) *collector {
	t.Helper()
	c := &collector{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if err == nil {
			if r.Header.Get("Content-Type") == "application/json" {
				err = protojson.Unmarshal(body, req)
			} else {
				err = proto.Unmarshal(body, req)
			}
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.errs = append(c.errs, err)
		}
		c.reqs = append(c.reqs, summarize(r.Method, r.URL.Path, r.Header.Get("Content-Type"), req))
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	c.URL = srv.URL
	return c
}

func (c *collector) requests(t testing.TB) []otlpRequest {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("collector could not decode a request: %v", err)
	}
	return append([]otlpRequest(nil), c.reqs...)
}

func summarize(method, path, contentType string, req *coltracepb.ExportTraceServiceRequest) otlpRequest {
	o := otlpRequest{Method: method, Path: path, ContentType: contentType}
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				o.Service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				o.Spans = append(o.Spans, s.GetName())
			}
		}
	}
	return o
}

func TestSetupExportsSpansOverHTTPOnShutdown(t *testing.T) {
	tests := []struct {
		name        string
		cfg         func(url string) telemetry.Config
		path        string
		contentType string
	}{
		{
			name:        "base endpoint",
			cfg:         func(url string) telemetry.Config { return telemetry.Config{Endpoint: url} },
			path:        "/v1/traces",
			contentType: "application/x-protobuf",
		},
		{
			name:        "base endpoint with a path",
			cfg:         func(url string) telemetry.Config { return telemetry.Config{Endpoint: url + "/otlp/"} },
			path:        "/otlp/v1/traces",
			contentType: "application/x-protobuf",
		},
		{
			name: "traces endpoint used as is, winning over the base",
			cfg: func(url string) telemetry.Config {
				return telemetry.Config{Endpoint: "http://127.0.0.1:1", TracesEndpoint: url + "/custom"}
			},
			path:        "/custom",
			contentType: "application/x-protobuf",
		},
		{
			name: "http/json",
			cfg: func(url string) telemetry.Config {
				return telemetry.Config{Endpoint: url, Protocol: "grpc", TracesProtocol: "http/json"}
			},
			path:        "/v1/traces",
			contentType: "application/json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollector(t)
			cfg := tt.cfg(c.URL)
			cfg.ServiceName = "enricher"
			cfg.MetricsExporter = "none" // spans alone here; see TestSetupExportsMetrics
			tel, err := telemetry.Setup(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "fetch tags")
			span.End()
			if got := c.requests(t); len(got) != 0 {
				t.Fatalf("collector got %d requests before Shutdown, want the batcher to hold them", len(got))
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			want := []otlpRequest{{
				Method: http.MethodPost, Path: tt.path, ContentType: tt.contentType,
				Spans: []string{"fetch tags"}, Service: "enricher",
			}}
			if diff := cmp.Diff(want, c.requests(t)); diff != "" {
				t.Errorf("collector requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetupExportsSpansOverGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *coltracepb.ExportTraceServiceRequest, 10)
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, &grpcCollector{got: got})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("grpc Serve: %v", err)
		}
	})

	tel, err := telemetry.Setup(context.Background(), telemetry.Config{
		ServiceName:     "stats",
		Endpoint:        "http://" + lis.Addr().String(),
		Protocol:        "grpc",
		MetricsExporter: "prometheus",
	})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "fetch statistics")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case req := <-got:
		want := otlpRequest{Method: "Export", Spans: []string{"fetch statistics"}, Service: "stats"}
		if diff := cmp.Diff(want, summarize("Export", "", "", req)); diff != "" {
			t.Errorf("exported (-want +got):\n%s", diff)
		}
	default:
		t.Fatal("the gRPC collector got no export by the time Shutdown returned")
	}
}

type grpcCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	got chan<- *coltracepb.ExportTraceServiceRequest
}

func (c *grpcCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	select {
	case c.got <- req:
	default:
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestSetupTracesExporterNoneExportsNothing(t *testing.T) {
	c := newCollector(t)
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{Endpoint: c.URL, TracesExporter: "none", MetricsExporter: "none"})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, span := tel.TracerProvider().Tracer("test").Start(context.Background(), "quiet")
	span.End()
	if !span.SpanContext().IsValid() {
		t.Error("span has no valid context with export off")
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := c.requests(t); len(got) != 0 {
		t.Errorf("collector got %v, want nothing with OTEL_TRACES_EXPORTER=none", got)
	}
}

func TestSetupRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  telemetry.Config
		want error
	}{
		{"unknown protocol", telemetry.Config{Endpoint: "http://127.0.0.1:4318", Protocol: "thrift"}, telemetry.ErrUnsupportedProtocol},
		{"endpoint without scheme", telemetry.Config{Endpoint: "otel-collector:4317"}, telemetry.ErrInvalidEndpoint},
		{"endpoint with another scheme", telemetry.Config{TracesEndpoint: "ftp://collector/v1/traces"}, telemetry.ErrInvalidEndpoint},
		{"unknown exporter", telemetry.Config{TracesExporter: "zipkin"}, telemetry.ErrUnsupportedExporter},
		{"unknown metrics exporter", telemetry.Config{MetricsExporter: "otlp,statsd"}, telemetry.ErrUnsupportedExporter},
		{"metrics over http/json", telemetry.Config{Endpoint: "http://127.0.0.1:4318", Protocol: "http/json"}, telemetry.ErrUnsupportedProtocol},
		{"metrics endpoint without scheme", telemetry.Config{MetricsEndpoint: "collector:4318"}, telemetry.ErrInvalidEndpoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tel, err := telemetry.Setup(context.Background(), tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Errorf("Setup error %v, want %v", err, tt.want)
			}
			if tel != nil {
				t.Errorf("Setup returned a Telemetry with an error")
			}
		})
	}
}

func TestShutdownTwice(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown #%d: %v", i+1, err)
		}
	}
}
