package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/topology"
)

// world is one JetStream server and one simulator, shared by the
// "processes" of a test.
type world struct {
	tb     testing.TB
	bus    *bustest.Env
	simURL string
}

func newWorld(tb testing.TB, max int, window time.Duration, daily int64) *world {
	tb.Helper()
	return newWorldAt(tb, max, window, daily, nil)
}

// newWorldAt is newWorld with the simulator reading the time from now
// (nil: the real clock).
func newWorldAt(tb testing.TB, max int, window time.Duration, daily int64, now func() time.Time) *world {
	tb.Helper()
	sim, err := ghlsim.New(ghlsim.Options{Seed: "empty", Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	tb.Cleanup(srv.Close)
	w := &world{tb: tb, bus: bustest.Start(tb, topology.Options{}), simURL: srv.URL}
	w.admin(http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{
		"max": max, "window": window.String(), "daily": daily}}, nil)
	return w
}

func (w *world) admin(method, path string, in, out any) {
	w.tb.Helper()
	fleettest.Admin(w.tb, w.simURL, method, path, in, out)
}

// location creates a simulator location and returns its id and PIT.
func (w *world) location() (id, token string) {
	w.tb.Helper()
	var out struct{ ID, Token string }
	w.admin(http.MethodPost, "/_sandbox/locations", map[string]any{"socialTags": []string{"a", "b"}}, &out)
	return out.ID, out.Token
}

// request is one entry of the simulator's request log.
type request = fleettest.Request

func (w *world) requests(loc string) []request {
	w.tb.Helper()
	return fleettest.Requests(w.tb, w.simURL, loc)
}

// process is one governor on its own NATS connection, as a separate
// process of the fleet would have.
type process struct {
	conn *nats.Conn
	gov  *ratelimit.Governor
}

func (w *world) process(cfg ratelimit.Config) *process {
	w.tb.Helper()
	nc, err := nats.Connect(w.bus.URL())
	if err != nil {
		w.tb.Fatal(err)
	}
	w.tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		w.tb.Fatal(err)
	}
	gov, err := ratelimit.Open(context.Background(), js, cfg)
	if err != nil {
		w.tb.Fatal(err)
	}
	return &process{conn: nc, gov: gov}
}

// client returns a HighLevel client for token paced by p's governor (no
// governor when p is nil: someone outside the fleet).
func (w *world) client(p *process, token string, opts ghl.Options) *ghl.Client {
	w.tb.Helper()
	opts.BaseURL = w.simURL
	opts.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	if p != nil {
		opts.Limiter = p.gov
	}
	c, err := ghl.New(opts)
	if err != nil {
		w.tb.Fatal(err)
	}
	return c
}

// call makes one request for loc, deferring as a message handler would:
// on a *PacedError it sleeps the wait asked for and tries again.
func call(ctx context.Context, c *ghl.Client, loc string) error {
	for {
		_, err := c.Accounts(ctx, loc)
		var paced *ratelimit.PacedError
		if !errors.As(err, &paced) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(paced.Wait):
		}
	}
}

// windowCheck fails the test when some rolling window of the log holds
// more than max requests (all statuses count: a 429 is a request too); it
// returns the fullest window's count.
func windowCheck(tb testing.TB, reqs []request, max int, window time.Duration) int {
	tb.Helper()
	return fleettest.CheckWindow(tb, fleettest.APITimes(reqs), max, window)
}

func count429(reqs []request) int {
	n := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// forLeases runs test without leasing and with leases of 2 permits
// (Config.Lease), which must keep every bound the same.
func forLeases(t *testing.T, test func(t *testing.T, lease int)) {
	for _, lease := range []int{0, 2} {
		t.Run(fmt.Sprintf("lease=%d", lease), func(t *testing.T) { test(t, lease) })
	}
}

// awayFromMidnight returns a clock that runs at the real pace from noon
// UTC of a fixed day, for tests that compare a day's counts: on the real
// clock a run near midnight UTC could see the day start again between
// its calls and its reading of the count.
func awayFromMidnight() func() time.Time {
	noon, start := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC), time.Now()
	return func() time.Time { return noon.Add(time.Since(start)) }
}
