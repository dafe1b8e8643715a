// Package fleettest runs the real parts a worker test needs: an in-process
// JetStream server, the HighLevel simulator over HTTP on loopback, and
// fleet.Deps connected to both, with the simulator's locations registered.
package fleettest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Env is a running test fleet.
type Env struct {
	*bustest.Env
	Sim    *ghlsim.Simulator
	SimURL string
	Deps   *fleet.Deps
	// Spans records every span Deps.Telemetry ends, in an Env from
	// StartTraced (nil otherwise).
	Spans *tracetest.SpanRecorder
	// Locations are the simulator's locations, registered in Deps.Creds.
	Locations []ghlsim.LocationInfo
}

// Start starts the fleet with the simulator seeded with seed ("demo" or
// "empty"). HighLevel's day and the fleet's start again half a day after
// the start, whatever the time of day. Everything stops at the test's
// cleanup.
func Start(tb testing.TB, seed string) *Env {
	tb.Helper()
	return start(tb, seed, nil, nil)
}

// StartAt is Start with the simulator reading the time from now (its
// windows, its daily count and its reset), for tests that move its clock.
// The rest of the fleet keeps the real clock.
func StartAt(tb testing.TB, seed string, now func() time.Time) *Env {
	tb.Helper()
	return start(tb, seed, nil, now)
}

// StartTraced is Start with every span the fleet ends kept in Env.Spans,
// for tests of trace context; the others do without the memory it takes.
func StartTraced(tb testing.TB, seed string) *Env {
	tb.Helper()
	return start(tb, seed, tracetest.NewSpanRecorder(), nil)
}

func start(tb testing.TB, seed string, spans *tracetest.SpanRecorder, now func() time.Time) *Env {
	tb.Helper()
	logs := newTestWriter(tb)
	be := bustest.Start(tb, topology.Options{})
	sim, err := ghlsim.New(ghlsim.Options{Seed: seed, Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)

	cfg := fleet.DefaultConfig()
	cfg.NATSURL = be.URL()
	cfg.GHLBaseURL = srv.URL
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TokenKey = creds.NewKey()
	cfg.ShutdownTimeout = 5 * time.Second
	if now == nil {
		// HighLevel's day and the governors' start again half a day from
		// now (SOCIALSYNC_RATE_DAILY_RESET and the simulator's
		// rateLimit.dailyReset), not at a midnight UTC that a test running
		// late would cross between its calls and its reading of their
		// count. StartAt's tests move the simulator's clock past its
		// midnight themselves.
		reset := halfADayAway(time.Now())
		cfg.RateDailyReset = reset.String()
		Admin(tb, srv.URL, http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"dailyReset": reset.String()}}, nil)
	}
	if spans != nil {
		cfg.Telemetry.SpanProcessor = spans
	}
	ctx := context.Background()
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: logs})
	if err != nil {
		tb.Fatalf("fleet.Connect: %v", err)
	}
	tb.Cleanup(func() { deps.Close(context.Background()) })
	e := &Env{Env: be, Sim: sim, SimURL: srv.URL, Deps: deps, Spans: spans}
	for _, l := range sim.Locations() {
		e.AddLocation(tb, l)
	}
	return e
}

// halfADayAway returns the time after midnight UTC, in whole seconds, that
// is twelve hours after now's: a daily reset as far as can be from now.
func halfADayAway(now time.Time) time.Duration {
	now = now.UTC()
	return ((now.Sub(now.Truncate(24*time.Hour)) + 12*time.Hour) % (24 * time.Hour)).Truncate(time.Second)
}

// ConnectWithoutTokens connects another process to the fleet's NATS as
// the gateway does: with no token key and no client secret in its
// configuration (fleet.Options.NoTokenKey). It closes at the test's
// cleanup.
func (e *Env) ConnectWithoutTokens(tb testing.TB, name string) *fleet.Deps {
	tb.Helper()
	cfg := e.Deps.Config
	cfg.TokenKey, cfg.GHLClientSecret = "", ""
	d, err := fleet.Connect(context.Background(), name, cfg, fleet.Options{Log: e.Deps.Log, NoTokenKey: true})
	if err != nil {
		tb.Fatalf("fleet.Connect %s without tokens: %v", name, err)
	}
	tb.Cleanup(func() { d.Close(context.Background()) })
	if d.Creds != nil {
		tb.Fatalf("%s connected without a token key holds a credential store", name)
	}
	return d
}

// AddLocation registers a simulator location with its PIT.
func (e *Env) AddLocation(tb testing.TB, l ghlsim.LocationInfo) {
	tb.Helper()
	if err := e.Deps.Creds.AddPIT(context.Background(), creds.Location{ID: l.ID, Name: l.Name, Timezone: l.Timezone}, l.Token); err != nil {
		tb.Fatal(err)
	}
	e.Locations = append(e.Locations, l)
}

// Admin calls the simulator's admin API and decodes its JSON answer into
// out (when not nil); a non-2xx status fails the test.
func (e *Env) Admin(tb testing.TB, method, path string, in, out any) {
	tb.Helper()
	Admin(tb, e.SimURL, method, path, in, out)
}

// Admin calls the admin API of the simulator at simURL, as Env.Admin does:
// for tests that run the simulator without a whole Env.
func Admin(tb testing.TB, simURL, method, path string, in, out any) {
	tb.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			tb.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, simURL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// Eventually polls cond every 20ms until it is true or the deadline passes.
func Eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testWriter sends the fleet's log to the test log until the test's
// cleanup is over; a late line from a stopping goroutine is dropped.
type testWriter struct {
	tb   testing.TB
	mu   sync.Mutex
	done bool
}

func newTestWriter(tb testing.TB) *testWriter {
	w := &testWriter{tb: tb}
	tb.Cleanup(func() { // registered first, so it runs last
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// Run runs a worker's Run until the test ends, then cancels it and fails
// the test unless it returns nil within 15 seconds.
func Run(tb testing.TB, run func(context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Run returned %v on shutdown, want nil", err)
			}
		case <-time.After(15 * time.Second):
			tb.Error("Run did not return within 15s of shutdown")
		}
	})
}

// NewLocation creates a simulator location from spec (the admin API's
// body: name, timezone, socialTags, accounts, contacts), registers it with
// its token, and returns it.
func (e *Env) NewLocation(tb testing.TB, spec map[string]any) ghlsim.LocationInfo {
	tb.Helper()
	var created struct{ ID, Token string }
	e.Admin(tb, http.MethodPost, "/_sandbox/locations", spec, &created)
	tz, _ := spec["timezone"].(string)
	l := ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: tz}
	e.AddLocation(tb, l)
	return l
}

// NewTaggedLocation creates and registers a location (time zone UTC) with
// the given social tags, and returns its id and its tags' ids by name.
func (e *Env) NewTaggedLocation(tb testing.TB, tags ...string) (string, map[string]string) {
	tb.Helper()
	l := e.NewLocation(tb, map[string]any{"socialTags": tags, "timezone": "UTC"})
	detail := e.Location(tb, l.ID)
	ids := make(map[string]string, len(detail.SocialTags))
	for _, tag := range detail.SocialTags {
		ids[tag.Tag] = tag.ID
	}
	return l.ID, ids
}

// RunWorker runs w on the test fleet's Deps, as the package's RunWorker.
func (e *Env) RunWorker(tb testing.TB, name string, w fleet.Worker) (stop func()) {
	tb.Helper()
	return RunWorker(tb, e.Deps, name, w)
}

// RunWorker runs the consumers and loops of w on d (d.Components) until
// the test ends or the returned stop is called, then cancels them and
// fails the test unless each returns nil within 15 seconds.
func RunWorker(tb testing.TB, d *fleet.Deps, name string, w fleet.Worker) (stop func()) {
	tb.Helper()
	components, err := d.Components(name, w)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(components))
	for _, c := range components {
		go func() {
			if err := c.Run(ctx); err != nil {
				done <- fmt.Errorf("%s: %w", c.Name, err)
				return
			}
			done <- nil
		}()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			deadline := time.After(15 * time.Second)
			for range components {
				select {
				case err := <-done:
					if err != nil {
						tb.Errorf("%v on shutdown, want nil", err)
					}
				case <-deadline:
					tb.Errorf("%s did not stop within 15s of shutdown", name)
					return
				}
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}
