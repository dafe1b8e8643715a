package run_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/run"
)

// wait bounds every wait on the network in these tests; it only decides
// how long a broken test hangs, never whether a working one passes.
const wait = 10 * time.Second

// started is a Server running in the background for one test.
type started struct {
	srv    *run.Server
	url    string
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

// start runs srv on a free loopback port until the test ends, and checks
// that it then shuts down cleanly.
func start(t testing.TB, srv *run.Server) *started {
	t.Helper()
	if got := srv.Addr(); got != "" {
		t.Fatalf("Addr before Listen = %q, want empty", got)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &started{
		srv:    srv,
		url:    "http://" + srv.Addr(),
		client: &http.Client{Transport: &http.Transport{}, Timeout: wait},
		cancel: cancel,
		done:   make(chan error, 1),
	}
	go func() { s.done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		s.client.CloseIdleConnections()
		if err := s.stop(t); err != nil {
			t.Errorf("Run after an idle shutdown = %v, want nil", err)
		}
	})
	return s
}

// stop cancels Run's context and returns what Run returned, once.
func (s *started) stop(t testing.TB) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if !ok {
			return nil
		}
		close(s.done)
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return after its context ended")
		return nil
	}
}

// get requests path and returns the status and the decoded JSON body (or the
// raw body when it is not JSON).
func (s *started) get(t testing.TB, path string) (int, any) {
	t.Helper()
	resp, err := s.client.Get(s.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil {
		return resp.StatusCode, string(raw)
	}
	return resp.StatusCode, body
}

func TestHealthz(t *testing.T) {
	log, _ := newLog()
	s := start(t, run.NewServer("127.0.0.1:0", nil, log))
	want := map[string]any{"status": "ok"}
	for _, draining := range []bool{false, true} {
		if draining {
			s.srv.SetDraining()
		}
		code, body := s.get(t, "/healthz")
		if code != http.StatusOK || !cmp.Equal(body, want) {
			t.Errorf("draining %v: GET /healthz = %d %v, want 200 %v", draining, code, body, want)
		}
	}
}

func TestReadyzReportsFailingChecks(t *testing.T) {
	pass := func(context.Context) error { return nil }
	fail := func(msg string) func(context.Context) error {
		return func(context.Context) error { return errors.New(msg) }
	}
	tests := []struct {
		name   string
		checks map[string]func(context.Context) error
		code   int
		body   map[string]any
	}{
		{
			name: "no checks",
			code: http.StatusOK,
			body: map[string]any{"status": "ready"},
		},
		{
			name:   "all pass",
			checks: map[string]func(context.Context) error{"nats": pass, "streams": pass},
			code:   http.StatusOK,
			body:   map[string]any{"status": "ready"},
		},
		{
			name:   "some fail",
			checks: map[string]func(context.Context) error{"nats": fail("disconnected"), "streams": pass, "kv": fail("bucket tags missing")},
			code:   http.StatusServiceUnavailable,
			body: map[string]any{
				"status":  "not ready",
				"failing": []any{"kv", "nats"},
				"errors":  map[string]any{"kv": "bucket tags missing", "nats": "disconnected"},
			},
		},
		{
			name:   "a check panics",
			checks: map[string]func(context.Context) error{"nats": func(context.Context) error { panic("nil conn") }},
			code:   http.StatusServiceUnavailable,
			body: map[string]any{
				"status": "not ready", "failing": []any{"nats"},
				"errors": map[string]any{"nats": "check panicked: nil conn"},
			},
		},
		{
			name: "a check outlives the timeout",
			checks: map[string]func(context.Context) error{"slow": func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			}},
			code: http.StatusServiceUnavailable,
			body: map[string]any{
				"status": "not ready", "failing": []any{"slow"},
				"errors": map[string]any{"slow": "check timed out after 50ms: context deadline exceeded"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, _ := newLog()
			srv := run.NewServer("127.0.0.1:0", nil, log, run.WithCheckTimeout(50*time.Millisecond))
			for name, c := range tt.checks {
				srv.AddCheck(name, c)
			}
			s := start(t, srv)
			code, body := s.get(t, "/readyz")
			if code != tt.code {
				t.Errorf("GET /readyz status %d, want %d", code, tt.code)
			}
			if diff := cmp.Diff(any(tt.body), body); diff != "" {
				t.Errorf("GET /readyz body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadyzDoesNotWaitForACheckIgnoringItsContext(t *testing.T) {
	log, _ := newLog()
	srv := run.NewServer("127.0.0.1:0", nil, log, run.WithCheckTimeout(50*time.Millisecond))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.AddCheck("stubborn", func(context.Context) error { <-release; return nil })
	s := start(t, srv)
	code, body := s.get(t, "/readyz")
	want := map[string]any{
		"status": "not ready", "failing": []any{"stubborn"},
		"errors": map[string]any{"stubborn": "check timed out after 50ms: context deadline exceeded"},
	}
	if code != http.StatusServiceUnavailable || !cmp.Equal(body, any(want)) {
		t.Errorf("GET /readyz = %d %v, want 503 %v", code, body, want)
	}
}

func TestReadyzFlips(t *testing.T) {
	log, logs := newLog()
	srv := run.NewServer("127.0.0.1:0", nil, log)
	var natsErr atomic.Pointer[error]
	srv.AddCheck("nats", func(context.Context) error {
		if p := natsErr.Load(); p != nil {
			return *p
		}
		return nil
	})
	s := start(t, srv)
	disconnected := errors.New("disconnected")

	steps := []struct {
		do     func()
		code   int
		status string
	}{
		{func() {}, http.StatusOK, "ready"},
		{func() { natsErr.Store(&disconnected) }, http.StatusServiceUnavailable, "not ready"},
		{func() {}, http.StatusServiceUnavailable, "not ready"},
		{func() { natsErr.Store(nil) }, http.StatusOK, "ready"},
		{func() { srv.AddCheck("nats", func(context.Context) error { return disconnected }) }, http.StatusServiceUnavailable, "not ready"},
		{func() { srv.AddCheck("nats", func(context.Context) error { return nil }) }, http.StatusOK, "ready"},
		{srv.SetDraining, http.StatusServiceUnavailable, "draining"},
		{func() { srv.AddCheck("streams", func(context.Context) error { return nil }) }, http.StatusServiceUnavailable, "draining"},
	}
	for i, step := range steps {
		step.do()
		code, body := s.get(t, "/readyz")
		got, _ := body.(map[string]any)
		if code != step.code || got["status"] != step.status {
			t.Errorf("step %d: GET /readyz = %d %v, want %d with status %q", i, code, body, step.code, step.status)
		}
	}
	// Readiness changes are logged once each, not at every probe.
	got := logs.String()
	if n := strings.Count(got, `msg="not ready"`); n != 2 {
		t.Errorf("logged not ready %d times, want 2:\n%s", n, got)
	}
	if n := strings.Count(got, "msg=draining"); n != 1 {
		t.Errorf("logged draining %d times, want 1:\n%s", n, got)
	}
}

func TestMetricsRoute(t *testing.T) {
	log, _ := newLog()
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "socialsync_up 1\n")
	})
	s := start(t, run.NewServer("127.0.0.1:0", metrics, log))
	if code, body := s.get(t, "/metrics"); code != http.StatusOK || body != "socialsync_up 1\n" {
		t.Errorf("GET /metrics = %d %q, want 200 with the handler's page", code, body)
	}

	bare := start(t, run.NewServer("127.0.0.1:0", nil, log))
	if code, _ := bare.get(t, "/metrics"); code != http.StatusNotFound {
		t.Errorf("GET /metrics without a handler = %d, want 404", code)
	}
	resp, err := bare.client.Post(bare.url+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}
}

func TestServerStopsServingWhenItsContextEnds(t *testing.T) {
	log, _ := newLog()
	s := start(t, run.NewServer("127.0.0.1:0", nil, log))
	if code, _ := s.get(t, "/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d before shutdown", code)
	}
	if err := s.stop(t); err != nil {
		t.Errorf("Run = %v, want nil after an orderly shutdown", err)
	}
	s.client.CloseIdleConnections()
	if conn, err := net.DialTimeout("tcp", s.srv.Addr(), wait); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Run returned", s.srv.Addr())
	}
}

func TestServerShutdownIsBounded(t *testing.T) {
	log, _ := newLog()
	srv := run.NewServer("127.0.0.1:0", nil, log,
		run.WithCheckTimeout(time.Hour), run.WithShutdownTimeout(50*time.Millisecond))
	entered := make(chan struct{})
	release := make(chan struct{})
	srv.AddCheck("stubborn", func(context.Context) error {
		close(entered)
		<-release
		return nil
	})
	s := start(t, srv)
	defer close(release)

	probe := make(chan error, 1)
	go func() {
		resp, err := s.client.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
		}
		probe <- err
	}()
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("the readiness check was never called")
	}

	// A request is in flight and will not end: Run must still return,
	// cutting it off once the shutdown timeout has passed.
	if err := s.stop(t); !errors.Is(err, run.ErrShutdownTimeout) {
		t.Errorf("Run = %v, want ErrShutdownTimeout", err)
	}
	select {
	case err := <-probe:
		if err == nil {
			t.Error("the cut-off probe got a response")
		}
	case <-time.After(wait):
		t.Error("the in-flight probe was not cut off")
	}
}

func TestServerRunFailsOnABusyPort(t *testing.T) {
	log, _ := newLog()
	first := start(t, run.NewServer("127.0.0.1:0", nil, log))
	second := run.NewServer(first.srv.Addr(), nil, log)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := second.Run(ctx); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("Run on a busy port = %v, want a listen error", err)
	}
}

func TestGroupWithServer(t *testing.T) {
	log, _ := newLog()
	srv := run.NewServer("127.0.0.1:0", nil, log)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{}, Timeout: wait}
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := run.NewGroup(log, wait)
	g.OnShutdown(srv.SetDraining)
	g.Add("http", srv.Run)
	working := make(chan struct{})
	g.Add("worker", func(ctx context.Context) error {
		close(working)
		<-ctx.Done()
		return ctx.Err()
	})
	result := make(chan error, 1)
	go func() { result <- g.Run(ctx) }()

	<-working
	resp, err := client.Get("http://" + srv.Addr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /readyz while running = %d, want 200", resp.StatusCode)
	}

	cancel() // SIGTERM
	select {
	case err := <-result:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("the group did not shut down")
	}
}

// Start serves the probes before Run (a process still waiting for its
// dependencies answers them); Run then takes the serving over, and Close
// stops a server that never got to Run.
func TestStartServesBeforeRun(t *testing.T) {
	var ready atomic.Bool
	newServer := func() *run.Server {
		log, _ := newLog()
		srv := run.NewServer("127.0.0.1:0", nil, log)
		srv.AddCheck("deps", func(context.Context) error {
			if !ready.Load() {
				return errors.New("waiting")
			}
			return nil
		})
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(); err != nil {
			t.Fatalf("second Start: %v", err)
		}
		return srv
	}
	status := func(addr, path string) int {
		resp, err := (&http.Client{Timeout: wait}).Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	srv := newServer()
	addr := srv.Addr()
	if got := status(addr, "/healthz"); got != http.StatusOK {
		t.Errorf("/healthz before Run = %d, want 200", got)
	}
	if got := status(addr, "/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Run, a check failing = %d, want 503", got)
	}
	ready.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if got := status(addr, "/readyz"); got != http.StatusOK {
		t.Errorf("/readyz under Run = %d, want 200", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}

	unrun := newServer()
	if err := unrun.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := status(unrun.Addr(), "/healthz"); got != 0 {
		t.Errorf("/healthz after Close = %d, want the port closed", got)
	}
}
