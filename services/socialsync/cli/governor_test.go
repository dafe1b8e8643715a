package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/topology"
)

// simRequest is an entry of the simulator's GET /_sandbox/requests.
type simRequest struct {
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
	At     time.Time `json:"at"`
}

func simRequests(t *testing.T, base, loc string) []simRequest {
	t.Helper()
	resp, err := http.Get(base + "/_sandbox/requests?location=" + loc)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Requests []simRequest `json:"requests"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Requests
}

// pitLocation starts a JetStream server and the demo simulator and adds
// its first location with its Private Integration token (locations add),
// for a command to call HighLevel for; it returns the server, the
// location and the simulator's URL.
func pitLocation(t *testing.T) (*bustest.Env, ghlsim.LocationInfo, string) {
	t.Helper()
	env := bustest.Start(t, topology.Options{})
	sim, base, _ := oauthSandbox(t)
	l := sim.Locations()[0]
	if _, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", l.ID, "--pit", l.Token); code != 0 {
		t.Fatal(errOut)
	}
	return env, l, base
}

// spendBudget takes n permits of loc from the fleet's shared budget, as a
// worker's governor would (the SOCIALSYNC_RATE_* variables in effect),
// each answered at once, and returns that governor, closed (its leases
// given back), and when it began.
func spendBudget(t *testing.T, env *bustest.Env, loc string, n int) (*ratelimit.Governor, time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rs fleet.RateSettings
	if err := envconfig.Process("socialsync", &rs); err != nil {
		t.Fatal(err)
	}
	rcfg, err := rs.GovernorConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := bus.OpenSchemaGate(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	gov, err := ratelimit.Open(ctx, bus.VersionedJetStream(env.JS, schema), rcfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range n {
		release, err := gov.Wait(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		release(ghl.ResponseInfo{StatusCode: http.StatusOK})
	}
	if err := gov.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return gov, start
}

// A location whose window the fleet has spent (here by a governor of the
// test, as a worker's would): doctor sends nothing to HighLevel until the
// window frees, and its calls count in the location's shared budget. The
// governor of both reads the same SOCIALSYNC_RATE_* variables.
func TestDoctorWaitsForTheFleetsRateBudget(t *testing.T) {
	const max, window = 4, 5 * time.Second
	t.Setenv("SOCIALSYNC_RATE_MAX", "4")
	t.Setenv("SOCIALSYNC_RATE_WINDOW", window.String())
	t.Setenv("SOCIALSYNC_RATE_LEASE", "0")
	env, l, base := pitLocation(t)

	// The window's every permit, answered at once: each holds the budget
	// a window after its answer, so none frees before start+window.
	gov, start := spendBudget(t, env, l.ID, max)

	out, errOut, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", l.ID)
	if code != 0 || !strings.Contains(out, "200 ok") {
		t.Fatalf("doctor: exit %d:\n%s%s", code, out, errOut)
	}
	var calls int
	for _, r := range simRequests(t, base, l.ID) {
		if r.At.Before(start) {
			continue // the add's, if any
		}
		calls++
		if r.At.Before(start.Add(window)) {
			t.Errorf("%s %s reached HighLevel at %v, %v after the window was spent, within its %v",
				r.Method, r.Path, r.At.Format(time.RFC3339Nano), r.At.Sub(start), window)
		}
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("%s %s was answered 429", r.Method, r.Path)
		}
	}
	if calls == 0 {
		t.Fatalf("doctor made no call to HighLevel:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hr, err := gov.Headroom(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if hr.DailyUsed != int64(max+calls) {
		t.Errorf("the budget counts %d calls today, want the test's %d and doctor's %d", hr.DailyUsed, max, calls)
	}
}

// A location whose daily cap the fleet has reached: doctor waits for no
// reset hours away, sends nothing to HighLevel, and says the location is
// paced.
func TestDoctorFailsAtOnceWhenTheDailyCapIsReached(t *testing.T) {
	const daily = 4
	t.Setenv("SOCIALSYNC_RATE_DAILY", "4")
	t.Setenv("SOCIALSYNC_RATE_LEASE", "0")
	// A reset a good hour away whenever the test runs.
	reset := time.Now().UTC().Add(2 * time.Hour).Truncate(time.Hour)
	t.Setenv("SOCIALSYNC_RATE_DAILY_RESET", (reset.Sub(reset.Truncate(24 * time.Hour))).String())
	env, l, base := pitLocation(t)
	_, start := spendBudget(t, env, l.ID, daily)
	out, errOut, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", l.ID)
	if code != 1 || !strings.Contains(out, "paced") || !strings.Contains(out, "cap reached") {
		t.Fatalf("doctor on a location at its daily cap: exit %d:\n%s%s", code, out, errOut)
	}
	for _, r := range simRequests(t, base, l.ID) {
		if !r.At.Before(start) {
			t.Errorf("%s %s reached HighLevel past the daily cap", r.Method, r.Path)
		}
	}
}

// A bad SOCIALSYNC_RATE_* is a usage error naming the variable, as a
// worker's startup error does.
func TestDoctorRefusesABadRateVariable(t *testing.T) {
	env, l, _ := pitLocation(t)
	for name, value := range map[string]string{"SOCIALSYNC_RATE_LEASE": "-1", "SOCIALSYNC_RATE_WINDOW": "soon", "SOCIALSYNC_RATE_DAILY_RESET": "05:30"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			_, errOut, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", l.ID)
			if code != 2 || !strings.Contains(errOut, strings.TrimPrefix(name, "SOCIALSYNC_")) {
				t.Errorf("doctor with %s=%s: exit %d, %s", name, value, code, errOut)
			}
		})
	}
}
