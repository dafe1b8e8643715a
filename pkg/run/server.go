package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Server's bounds; see WithCheckTimeout and
// WithShutdownTimeout.
const (
	DefaultCheckTimeout    = 2 * time.Second
	DefaultShutdownTimeout = 5 * time.Second
)

// Server is the process's operations endpoint:
//
//   - GET /healthz answers 200 while the process is alive, draining or not;
//   - GET /readyz answers 200 when every readiness check passes and the
//     process is not draining, and 503 otherwise, with a JSON body naming
//     the failing checks;
//   - GET /metrics is the metrics handler given to NewServer.
//
// Its methods are safe for concurrent use.
type Server struct {
	addr            string
	log             *slog.Logger
	handler         http.Handler
	mux             *http.ServeMux
	checkTimeout    time.Duration
	shutdownTimeout time.Duration

	draining atomic.Bool
	// notReady remembers the last readiness answer so that only changes
	// are logged.
	notReady atomic.Bool

	mu     sync.Mutex
	checks map[string]func(context.Context) error
	ln     net.Listener
	srv    *http.Server
	served chan error // the result of srv.Serve, once Start has run
	ran    bool
}

// ServerOption adjusts a Server built by NewServer.
type ServerOption func(*Server)

// WithCheckTimeout bounds each readiness check; a check still running then
// fails with its context's error. The default is DefaultCheckTimeout.
func WithCheckTimeout(d time.Duration) ServerOption {
	return func(s *Server) { s.checkTimeout = d }
}

// WithShutdownTimeout bounds how long Run waits for in-flight requests
// once its context ends. The default is DefaultShutdownTimeout.
func WithShutdownTimeout(d time.Duration) ServerOption {
	return func(s *Server) { s.shutdownTimeout = d }
}

// NewServer returns a server that will listen on addr (host:port; port 0
// picks a free one) and serve metrics at /metrics; a nil metrics leaves
// /metrics a 404.
func NewServer(addr string, metrics http.Handler, log *slog.Logger, opts ...ServerOption) *Server {
	s := &Server{
		addr:            addr,
		log:             log,
		checkTimeout:    DefaultCheckTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		checks:          make(map[string]func(context.Context) error),
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	s.handler = mux
	s.mux = mux
	return s
}

// Handle serves h at pattern (an http.ServeMux pattern) beside /healthz,
// /readyz and /metrics, so that a process serves its own endpoints on
// the same address. Call it before Run.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mux.Handle(pattern, h)
}

// AddCheck registers a readiness check under name, replacing any check of
// that name. check gets a context bounded by the check timeout and returns
// nil when the process can do its work (NATS connected, streams present).
func (s *Server) AddCheck(name string, check func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

// SetDraining makes /readyz answer 503 from now on. Run calls it when its
// context ends; a Group calls it first when registered with OnShutdown.
func (s *Server) SetDraining() {
	if !s.draining.Swap(true) {
		s.log.Info("draining")
	}
}

// Listen binds the server's address without serving yet, so that a busy
// port fails the process before its components start and so that Addr is
// known. Run calls it when it has not been called.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server is listening on, such as
// "127.0.0.1:41234", or "" before Listen or Run has bound it.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Start binds the address and starts serving in the background, so that
// /healthz and /readyz answer while the process is still starting (waiting
// for NATS, say). Run takes the serving over; a process that never gets to
// Run stops it with Close. Start after Start does nothing.
func (s *Server) Start() error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return nil
	}
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.served = make(chan error, 1)
	srv, ln, served := s.srv, s.ln, s.served
	go func() { served <- srv.Serve(ln) }()
	return nil
}

// Close stops the server at once, cutting off in-flight requests; Run's
// orderly shutdown makes it unnecessary.
func (s *Server) Close() error {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	if ln != nil {
		return ln.Close()
	}
	return nil
}

// Run serves until ctx ends (starting the server unless Start did), then
// marks the server draining, stops accepting connections and waits up to
// the shutdown timeout for in-flight requests. It returns nil after an
// orderly shutdown, an error wrapping ErrShutdownTimeout when requests
// outlived the timeout (they are cut off), and the listener's error if
// serving fails. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("server already ran")
	}
	s.ran = true
	s.mu.Unlock()
	if err := s.Start(); err != nil {
		return err
	}
	s.mu.Lock()
	srv, ln, served := s.srv, s.ln, s.served
	s.mu.Unlock()

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.SetDraining()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Cut off what is left so that Run returns within the bound.
		_ = srv.Close()
		err = fmt.Errorf("%w: http server on %s: %w", ErrShutdownTimeout, ln.Addr(), err)
	}
	<-served // http.ErrServerClosed, now that Shutdown has begun
	return err
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the body of a /readyz answer.
type readiness struct {
	// Status is "ready", "not ready" (a check failed) or "draining".
	Status string `json:"status"`
	// Failing names the failing checks, sorted.
	Failing []string `json:"failing,omitempty"`
	// Errors holds each failing check's error.
	Errors map[string]string `json:"errors,omitempty"`
}

// Ready reports what /readyz would answer now: true when the process is
// not draining and every readiness check passes.
func (s *Server) Ready(ctx context.Context) bool {
	return !s.draining.Load() && len(s.runChecks(ctx)) == 0
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "draining"})
		return
	}
	errs := s.runChecks(r.Context())
	if len(errs) == 0 {
		if s.notReady.Swap(false) {
			s.log.Info("ready")
		}
		writeJSON(w, http.StatusOK, readiness{Status: "ready"})
		return
	}
	body := readiness{Status: "not ready", Errors: make(map[string]string, len(errs))}
	joined := make([]error, 0, len(errs))
	for name, err := range errs {
		body.Failing = append(body.Failing, name)
		body.Errors[name] = err.Error()
	}
	slices.Sort(body.Failing)
	for _, name := range body.Failing {
		joined = append(joined, fmt.Errorf("%s: %w", name, errs[name]))
	}
	if !s.notReady.Swap(true) {
		s.log.Warn("not ready", "err", errors.Join(joined...))
	}
	writeJSON(w, http.StatusServiceUnavailable, body)
}

// runChecks runs every check concurrently, each bounded by the check
// timeout, and returns the failures by name.
func (s *Server) runChecks(ctx context.Context) map[string]error {
	s.mu.Lock()
	checks := maps.Clone(s.checks)
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	// Buffered: a check that ignores its context finishes on its own
	// after the probe has been answered.
	results := make(chan result, len(checks))
	pending := make(map[string]bool, len(checks))
	for name, check := range checks {
		pending[name] = true
		go func() { results <- result{name, runCheck(ctx, check)} }()
	}
	failed := make(map[string]error)
	for len(pending) > 0 {
		select {
		case r := <-results:
			delete(pending, r.name)
			switch {
			case r.err == nil:
			case ctx.Err() != nil && errors.Is(r.err, ctx.Err()):
				// Reported like a check that has not returned: which of
				// the two a slow check is depends on scheduling.
				failed[r.name] = s.timedOut(r.err)
			default:
				failed[r.name] = r.err
			}
		case <-ctx.Done():
			// A check ignoring its context must not hold the probe.
			for name := range pending {
				failed[name] = s.timedOut(ctx.Err())
			}
			return failed
		}
	}
	return failed
}

func (s *Server) timedOut(err error) error {
	return fmt.Errorf("check timed out after %s: %w", s.checkTimeout, err)
}

// runCheck calls check, turning a panic into an error.
func runCheck(ctx context.Context, check func(context.Context) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check panicked: %v", r)
		}
	}()
	return check(ctx)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
