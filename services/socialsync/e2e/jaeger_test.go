package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
)

// jaegerBinary returns the Jaeger v2 binary that scripts/jaeger.sh builds
// once into a cache directory (`make jaeger` builds it before the tests;
// run alone, the test builds it itself, which takes minutes the first
// time).
func jaegerBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(root, "scripts", "jaeger.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/jaeger.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// jaeger is a running Jaeger v2 with in-memory storage.
type jaeger struct {
	// OTLP is the OTLP/HTTP receiver's base URL, for
	// OTEL_EXPORTER_OTLP_ENDPOINT.
	OTLP string
	// Query is the query service's base URL (API and UI).
	Query string
}

// jaegerConfig is a minimal Jaeger v2 configuration: an OTLP/HTTP
// receiver, memory storage, the query service, a health check, and no
// listener on a fixed port (the collector's own metrics are off).
const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:%d
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:%d
    grpc:
      endpoint: 127.0.0.1:%d
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:%d
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startJaeger runs Jaeger on free loopback ports as one of the fleet's
// processes, and waits until it answers.
func (f *fleet) startJaeger(bin string) *jaeger {
	f.t.Helper()
	health, query, queryGRPC, otlp := freePort(f.t), freePort(f.t), freePort(f.t), freePort(f.t)
	cfg := filepath.Join(f.t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, health, query, queryGRPC, otlp), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	p := &proc{name: "jaeger", cmd: cmd, out: &fleettest.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start jaeger: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()

	j := &jaeger{OTLP: fmt.Sprintf("http://127.0.0.1:%d", otlp), Query: fmt.Sprintf("http://127.0.0.1:%d", query)}
	eventually(f.t, 60*time.Second, "jaeger to report healthy", func() bool {
		select {
		case <-p.done:
			f.t.Fatalf("jaeger exited:\n%s", tail(p.out.String(), 40))
		default:
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", health))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitTCP(f.t, fmt.Sprintf("127.0.0.1:%d", otlp))
	waitTCP(f.t, fmt.Sprintf("127.0.0.1:%d", query))
	return j
}

// jaegerTrace is a trace as Jaeger's query API (/api/traces/{id}) returns it.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags      []jaegerTag `json:"tags"`
		ProcessID string      `json:"processID"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string      `json:"serviceName"`
		Tags        []jaegerTag `json:"tags"`
	} `json:"processes"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// tag returns the value of key in tags, rendered as text, and whether it
// is there.
func tag(tags []jaegerTag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return fmt.Sprint(t.Value), true
		}
	}
	return "", false
}

// trace fetches a trace from the query API; ok is false while Jaeger does
// not know it.
func (j *jaeger) trace(t *testing.T, id string) (tr jaegerTrace, body string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.Query+"/api/traces/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query jaeger: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound {
		return tr, string(data), false
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/traces/%s: %s: %s", id, resp.Status, data)
	}
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("decode trace %s: %v", data, err)
	}
	if len(out.Data) != 1 {
		return tr, string(data), false
	}
	return out.Data[0], string(data), true
}

// services returns the service names of the trace's spans, with how many
// spans each has.
func (tr jaegerTrace) services() map[string]int {
	n := map[string]int{}
	for _, s := range tr.Spans {
		n[tr.Processes[s.ProcessID].ServiceName]++
	}
	return n
}

// get GETs a query API path and decodes its JSON answer into out.
func (j *jaeger) get(t *testing.T, path string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.Query+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query jaeger: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.500s", path, resp.Status, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("GET %s: decode %.500s: %v", path, data, err)
	}
}
