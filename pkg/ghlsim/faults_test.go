package ghlsim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// try sends an API request and returns the transport error, if any.
func (e *env) try(ctx context.Context, path, token string) (int, error) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Version", "2021-07-28")
	res, err := e.client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// setFaults replaces the fault settings.
func (e *env) setFaults(body string) {
	e.t.Helper()
	e.admin("PUT", "/_sandbox/faults", body).want(e.t, http.StatusOK)
}

func TestFaultStatuses(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"

	e.setFaults(`{"rate500":1}`)
	e.api("GET", path, loc.Token, nil).wantError(t, http.StatusInternalServerError, "Internal Server Error")
	// The admin API is never faulted.
	e.admin("GET", "/_sandbox/locations", nil).want(t, http.StatusOK)

	e.setFaults(`{"rate429":1}`)
	r := e.api("GET", path, loc.Token, nil).want(t, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "1" || r.header.Get("X-RateLimit-Max") != "100" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("injected 429 headers = %v", r.header)
	}

	e.setFaults(`{}`)
	r = e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	if got := r.header.Get("X-RateLimit-Daily-Remaining"); got != "199999" {
		t.Errorf("daily remaining = %s after injected faults, want 199999: faults consume nothing", got)
	}

	var requests struct{ Requests []logEntry }
	e.admin("GET", "/_sandbox/requests?location="+loc.ID, nil).want(t, http.StatusOK).decode(t, &requests)
	var statuses []int
	var faults []string
	for _, q := range requests.Requests {
		statuses = append(statuses, q.Status)
		faults = append(faults, q.Fault)
	}
	if diff := cmp.Diff([]int{500, 429, 200}, statuses); diff != "" {
		t.Errorf("logged statuses (-want +got):\n%s", diff)
	}
	// The log tells an injected answer from HighLevel's own.
	if diff := cmp.Diff([]string{"500", "429", ""}, faults); diff != "" {
		t.Errorf("logged faults (-want +got):\n%s", diff)
	}
}

func TestFaultReset(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	e.setFaults(`{"resetRate":1}`)
	if status, err := e.try(context.Background(), "/social-media-posting/"+loc.ID+"/tags", loc.Token); err == nil {
		t.Fatalf("reset fault: got status %d, want a transport error", status)
	}
}

func TestFaultTimeout(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	e.setFaults(`{"timeoutRate":1}`)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	status, err := e.try(ctx, "/social-media-posting/"+loc.ID+"/tags", loc.Token)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("timeout fault: status %d, err %v; want the client's deadline", status, err)
	}
	// The server gives up too, and logs it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries := e.sim.log.entries("", 0)
		if len(entries) == 1 && entries[0].Status == 499 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log = %+v, want one 499", entries)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaultLatencyAndSeed(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"

	e.setFaults(`{"latencyMs":60}`)
	start := time.Now()
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Errorf("request took %v, want at least the 60ms latency", d)
	}

	run := func() []int {
		e.setFaults(`{"rate500":0.5,"seed":42}`)
		var out []int
		for range 20 {
			out = append(out, e.api("GET", path, loc.Token, nil).status)
		}
		return out
	}
	first := run()
	if diff := cmp.Diff(first, run()); diff != "" {
		t.Errorf("same seed, different faults (-first +second):\n%s", diff)
	}
	n500 := 0
	for _, status := range first {
		if status == http.StatusInternalServerError {
			n500++
		}
	}
	if n500 == 0 || n500 == len(first) {
		t.Errorf("rate500 0.5 gave %d faults out of %d: %v", n500, len(first), first)
	}
}

func TestFaultSettingsAdmin(t *testing.T) {
	e := newEnv(t, "demo")
	tests := []struct {
		name string
		body string
		msg  string
	}{
		{"rate above one", `{"rate429":1.5}`, "rate429"},
		{"negative rate", `{"resetRate":-0.1}`, "resetRate"},
		{"negative latency", `{"latencyMs":-1}`, "latencyMs"},
		{"unknown field", `{"rate503":0.1}`, "rate503"},
		{"wrong type", `{"rate500":"half"}`, "rate500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.admin("PUT", "/_sandbox/faults", tt.body).want(t, http.StatusBadRequest)
			if m := r.object(t); !strings.Contains(m["error"].(string), tt.msg) {
				t.Errorf("error = %v, want it to name %s", m["error"], tt.msg)
			}
		})
	}
	e.setFaults(`{"rate429":0.25,"rate500":0.1,"timeoutRate":0.05,"resetRate":0.01,"latencyMs":5,"seed":9}`)
	var got faultSettings
	e.admin("GET", "/_sandbox/faults", nil).want(t, http.StatusOK).decode(t, &got)
	want := faultSettings{Rate429: 0.25, Rate500: 0.1, TimeoutRate: 0.05, ResetRate: 0.01, LatencyMs: 5, Seed: 9}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faults (-want +got):\n%s", diff)
	}
}

// A request is logged at its arrival, as HighLevel's window counts it: one
// hanging in an injected timeout is not logged when the client gave up,
// a window later.
func TestFaultTimeoutLoggedAtArrival(t *testing.T) {
	// A clock running 1000 times faster than the real one: the second the
	// client waits is 1000 s on it.
	realStart, fakeStart := time.Now(), testStart()
	now := func() time.Time { return fakeStart.Add(time.Since(realStart) * 1000) }
	sim, err := New(Options{Seed: "demo", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	loc := sim.Locations()[0]
	sim.faults.set(faultSettings{TimeoutRate: 1})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/social-media-posting/"+loc.ID+"/tags", nil)
	req.Header.Set("Authorization", "Bearer "+loc.Token)
	req.Header.Set("Version", "2021-07-28")
	sent := now()
	if res, err := srv.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("timeout fault answered %s", res.Status)
	}
	gaveUp := now()
	var entries []logEntry
	for deadline := time.Now().Add(5 * time.Second); len(entries) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the timed-out request was not logged")
		}
		time.Sleep(10 * time.Millisecond)
		entries = sim.log.entries("", 0)
	}
	at := entries[0].At
	if at.Before(sent) || at.Sub(sent) > gaveUp.Sub(sent)/2 {
		t.Errorf("logged at %v, sent at %v, given up at %v: want the arrival", at.Sub(fakeStart), sent.Sub(fakeStart), gaveUp.Sub(fakeStart))
	}
}
