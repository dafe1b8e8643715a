package creds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
)

// sim is a running simulator and the app whose client may use OAuth.
type sim struct {
	*ghlsim.Simulator
	URL string
	App ghl.AppCredentials
}

// startSim serves a demo simulator with access tokens living ttl ("" keeps
// HighLevel's day) and no effective rate limit, handled by wrap when set.
func startSim(t testing.TB, ttl string, wrap func(http.Handler) http.Handler) *sim {
	t.Helper()
	s, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = s
	if wrap != nil {
		h = wrap(s)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := s.Apps()[0]
	out := &sim{Simulator: s, URL: srv.URL, App: ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}}
	cfg := map[string]any{"rateLimit": map[string]any{"max": 10_000_000, "daily": 1_000_000_000}}
	if ttl != "" {
		cfg["accessTokenTTL"] = ttl
	}
	out.admin(t, http.MethodPut, "/_sandbox/config", cfg, nil)
	return out
}

func (s *sim) admin(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		_ = json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, s.URL+path, &body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// logEntry is one line of the simulator's request log.
type logEntry struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	Location string `json:"location"`
}

func (s *sim) requests(t testing.TB) []logEntry {
	t.Helper()
	var out struct {
		Requests []logEntry `json:"requests"`
	}
	s.admin(t, http.MethodGet, "/_sandbox/requests", nil, &out)
	return out.Requests
}

// tokenCalls counts the calls to POST /oauth/token by status.
func (s *sim) tokenCalls(t testing.TB) map[int]int {
	t.Helper()
	n := map[int]int{}
	for _, e := range s.requests(t) {
		if e.Method == http.MethodPost && e.Path == "/oauth/token" {
			n[e.Status]++
		}
	}
	return n
}

// client returns a HighLevel client of the simulator with no token and no
// retries.
func (s *sim) client(t testing.TB) *ghl.Client {
	t.Helper()
	c, err := ghl.New(ghl.Options{BaseURL: s.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// authorize plays the browser through the simulator's chooselocation page
// for location loc (the first location when empty) and exchanges the code
// for tokens of userType.
func (s *sim) authorize(t testing.TB, loc, scope, userType string) creds.Token {
	t.Helper()
	return fleettest.Authorize(t, s.URL, s.App, loc, scope, userType)
}

// accepts reports whether the simulator accepts token for loc.
func (s *sim) accepts(t testing.TB, loc, token string) error {
	c := s.client(t).ForLocation(loc, staticToken(token))
	_, err := c.ListSocialTags(context.Background(), loc, ghl.SearchOpts{Limit: 1})
	return err
}

// process is one Store on its own NATS connection, like one replica.
type process struct {
	store *creds.Store
	js    jetstream.JetStream
}

// openProcess opens a Store on a new connection to env's server.
func openProcess(t testing.TB, env *bustest.Env, keys *creds.Keyring, opts ...creds.Option) process {
	t.Helper()
	nc, err := nats.Connect(env.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := creds.Open(context.Background(), js, keys, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return process{store: s, js: js}
}

func keyring(t testing.TB) *creds.Keyring {
	t.Helper()
	k, err := creds.ParseKeyring(creds.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// syncLog is a log sink safe for concurrent writes.
type syncLog struct{ fleettest.Buffer }

func (l *syncLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// secretsIn returns the secrets of toks that appear in text.
func secretsIn(text string, toks ...creds.Token) []string {
	var found []string
	for _, tok := range toks {
		for _, s := range []string{tok.AccessToken, tok.RefreshToken} {
			if s != "" && strings.Contains(text, s) {
				found = append(found, fmt.Sprintf("%.12s…", s))
			}
		}
	}
	return found
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
