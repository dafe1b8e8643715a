package ghlsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testStart is the fake clock's start: a Wednesday afternoon in UTC.
func testStart() time.Time { return time.Date(2026, time.March, 11, 15, 4, 5, 0, time.UTC) }

// env is a simulator served over real HTTP on loopback, with a fake clock.
// Every HighLevel response it receives is checked against the official
// OpenAPI files (see checkContract).
type env struct {
	t      testing.TB
	sim    *Simulator
	srv    *httptest.Server
	clock  *fakeClock
	client *http.Client
	spec   *ghlspec.Spec // nil when the official files are absent
}

// newEnv starts a simulator with seed behind an httptest server, its clock
// at testStart.
func newEnv(t testing.TB, seed string) *env {
	t.Helper()
	return newEnvAt(t, seed, testStart())
}

// newEnvAt is newEnv with the clock at start.
func newEnvAt(t testing.TB, seed string, start time.Time) *env {
	t.Helper()
	clock := &fakeClock{t: start}
	sim, err := New(Options{Seed: seed, Now: clock.Now})
	if err != nil {
		t.Fatalf("New(%q): %v", seed, err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	client.Timeout = 10 * time.Second
	return &env{t: t, sim: sim, srv: srv, clock: clock, client: client, spec: officialSpec(t)}
}

// officialSpec loads HighLevel's OpenAPI files once per test binary, or
// returns nil (and says so) when they are absent.
var officialSpec = func() func(testing.TB) *ghlspec.Spec {
	var once sync.Once
	var spec *ghlspec.Spec
	var err error
	return func(t testing.TB) *ghlspec.Spec {
		t.Helper()
		dir, ok := ghlspec.Locate()
		if !ok {
			t.Logf("contract checks off: no OpenAPI files at %s", dir)
			return nil
		}
		once.Do(func() { spec, err = ghlspec.Load(dir) })
		if err != nil {
			t.Fatalf("load OpenAPI files: %v", err)
		}
		return spec
	}
}()

// knownUndeclared lists responses the simulator sends, as HighLevel does,
// with a status the official files do not declare for the operation.
func knownUndeclared(method, path string, status int) bool {
	switch {
	case method == "POST" && path == "/contacts/search" && status == http.StatusUnprocessableEntity:
		return true // docs issue 31: a body without pageLimit or locationId gets 422
	case method == "POST" && strings.HasPrefix(path, "/contacts/bulk/tags/update/") && status == http.StatusUnauthorized:
		return true // the operation declares no security, yet needs a token
	}
	return false
}

// checkContract validates a HighLevel response against the official files.
// Requests are not validated: tests send wrong ones on purpose.
func (e *env) checkContract(req *http.Request, reqBody []byte, res *http.Response, body []byte) {
	e.t.Helper()
	if e.spec == nil || ghlspec.Exempt(req.URL.Path) || knownUndeclared(req.Method, req.URL.Path, res.StatusCode) {
		return
	}
	err := e.spec.ValidateResponse(req.Context(), req, reqBody, res.StatusCode, res.Header, body)
	if err != nil && !errors.Is(err, ghlspec.ErrNoRoute) {
		e.t.Errorf("contract violation: %v", err)
	}
}

// resp is a response read in full.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v.
func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// object unmarshals the body into a generic JSON object.
func (r *resp) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// want fails the test unless the status is status.
func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.status, status, r.body)
	}
	return r
}

// request sends a request; body is JSON-encoded unless it is a string or
// url.Values (sent as a form). headers are name, value pairs.
func (e *env) request(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	var reqBody []byte
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string:
		reqBody, contentType = []byte(b), "application/json"
	case url.Values:
		reqBody, contentType = []byte(b.Encode()), "application/x-www-form-urlencoded"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode body: %v", err)
		}
		reqBody, contentType = data, "application/json"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	// Transport failures are reported with Errorf, not Fatalf, so that
	// helpers stay usable from goroutines; the status 0 fails any want.
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
		return &resp{header: http.Header{}}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Errorf("read body: %v", err)
	}
	e.checkContract(req, reqBody, res, data)
	return &resp{status: res.StatusCode, header: res.Header, body: data}
}

// api sends a HighLevel API request with token and Version 2021-07-28.
func (e *env) api(method, path, token string, body any) *resp {
	e.t.Helper()
	return e.request(method, path, body, "Authorization", "Bearer "+token, "Version", "2021-07-28")
}

// admin sends an admin API request.
func (e *env) admin(method, path string, body any) *resp {
	e.t.Helper()
	return e.request(method, path, body)
}

// loc returns the i-th location of the seed.
func (e *env) loc(i int) LocationInfo {
	e.t.Helper()
	locs := e.sim.Locations()
	if len(locs) <= i {
		e.t.Fatalf("seed has %d locations, want more than %d", len(locs), i)
	}
	return locs[i]
}

// detail returns the admin view of a location.
func (e *env) detail(id string) LocationView {
	e.t.Helper()
	var d LocationView
	e.admin("GET", "/_sandbox/locations/"+id, nil).want(e.t, http.StatusOK).decode(e.t, &d)
	return d
}

// setConfig changes the run-time configuration.
func (e *env) setConfig(body string) {
	e.t.Helper()
	e.admin("PUT", "/_sandbox/config", body).want(e.t, http.StatusOK)
}

// errorBody is the generic HighLevel error body, for assertions.
type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
}

// wantError fails unless r is an error with status and a message
// containing msg (for 422, one of the messages).
func (r *resp) wantError(t testing.TB, status int, msg string) {
	t.Helper()
	r.want(t, status)
	var b errorBody
	r.decode(t, &b)
	if b.StatusCode != status {
		t.Errorf("statusCode = %d, want %d; body %s", b.StatusCode, status, r.body)
	}
	switch m := b.Message.(type) {
	case string:
		if status == http.StatusUnprocessableEntity {
			t.Errorf("422 message is a string, want an array: %s", r.body)
		}
		if !strings.Contains(m, msg) {
			t.Errorf("message = %q, want it to contain %q", m, msg)
		}
	case []any:
		if status != http.StatusUnprocessableEntity {
			t.Errorf("message is an array for a %d: %s", status, r.body)
		}
		found := false
		for _, x := range m {
			if s, ok := x.(string); ok && strings.Contains(s, msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("messages %v, want one containing %q", m, msg)
		}
	default:
		t.Errorf("message has type %T: %s", b.Message, r.body)
	}
}

func TestNewUnknownSeed(t *testing.T) {
	_, err := New(Options{Seed: "nope"})
	if !errors.Is(err, ErrUnknownSeed) {
		t.Fatalf("New(nope) error = %v, want ErrUnknownSeed", err)
	}
}

func TestUnknownRouteIsNestStyle404(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	tests := []struct {
		method, path string
	}{
		{"GET", "/nope"},
		{"DELETE", "/social-media-posting/" + loc.ID + "/tags"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			e.api(tt.method, tt.path, loc.Token, nil).wantError(t, http.StatusNotFound, "Cannot "+tt.method+" "+tt.path)
		})
	}
}

// TestConcurrentUse drives the API and the admin API from many goroutines
// at once (run it with -race) and checks that no update is lost.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"rateLimit":{"max":100000}}`)
	loc := e.loc(0)
	shared := e.newContact(loc.ID)
	tagID := e.detail(loc.ID).SocialTags[0].ID
	const workers, rounds = 8, 15

	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := "worker-" + string(rune('a'+w))
			for i := range rounds {
				steps := []struct {
					r    *resp
					want int
				}{
					{e.api("GET", "/social-media-posting/"+loc.ID+"/tags?limit=20", loc.Token, nil), http.StatusOK},
					{e.api("POST", "/contacts/"+shared.ID+"/tags", loc.Token, map[string]any{"tags": []string{mine}}), http.StatusCreated},
					{e.admin("PUT", "/_sandbox/locations/"+loc.ID+"/socialTags/"+tagID, map[string]string{"tag": mine + "-renamed"}), http.StatusOK},
					{e.api("POST", "/contacts/search", loc.Token, map[string]any{"locationId": loc.ID, "pageLimit": 5, "filters": []map[string]any{{"field": "tags", "operator": "eq", "value": mine}}}), http.StatusOK},
				}
				if i%5 == 0 {
					steps = append(steps, struct {
						r    *resp
						want int
					}{e.admin("POST", "/_sandbox/locations/"+loc.ID+"/contacts", map[string]any{"tags": []string{mine}}), http.StatusCreated})
				}
				for _, s := range steps {
					if s.r.status != s.want {
						errs <- string(s.r.body)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	got := e.contactOf(loc.ID, shared.ID).Tags
	if len(got) != workers {
		t.Errorf("shared contact has tags %v, want one per worker (%d)", got, workers)
	}
}
