package ghl

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

const testToken = "pit-0b7d4c1e-5f2a-4c8e-9d3b-7a6e1f2c3d4e"

// handlerTransport serves requests with an in-process handler, so tests
// run inside a synctest bubble with a fake clock.
type handlerTransport struct{ h http.Handler }

func (ht handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	ht.h.ServeHTTP(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return rec.Result(), nil
}

// transportFunc lets a test return transport errors.
type transportFunc func(*http.Request) (*http.Response, error)

func (f transportFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// recorded is what the fake server saw of one request.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// fakeServer answers with the scripted responses in turn (the last one
// repeats) and records every request.
type fakeServer struct {
	mu       sync.Mutex
	requests []recorded
	script   []func(w http.ResponseWriter, r *http.Request)
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	step := s.script[min(n, len(s.script)-1)]
	s.mu.Unlock()
	step(w, r)
}

func (s *fakeServer) seen() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.requests...)
}

// reply writes status, headers and a JSON (or raw string) body.
func reply(status int, body any, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		var data []byte
		if s, ok := body.(string); ok {
			data = []byte(s)
		} else {
			data, _ = json.Marshal(body)
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		w.Write(data)
	}
}

// hang blocks until the request is cancelled.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func newFakeClient(t testing.TB, srv *fakeServer, opts Options) *Client {
	t.Helper()
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: handlerTransport{srv}}
	}
	if opts.TokenSource == nil {
		opts.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: testToken})
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://ghl.test"
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var tagsOK = Envelope[TagsResults]{Success: true, StatusCode: 200, Message: "Fetched Tags by Location ID",
	Results: TagsResults{Tags: []SocialTag{{ID: "t1", Tag: "launch"}}, Count: 1}}

func TestRequestHeaders(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token", "/oauth/locationToken":
			reply(200, Token{AccessToken: "a", RefreshToken: "r", UserType: "Location"})(w, r)
		default:
			reply(200, tagsOK)(w, r)
		}
	}}}
	c := newFakeClient(t, srv, Options{UserAgent: "test-agent"})
	ctx := context.Background()
	if _, err := c.ListSocialTags(ctx, "loc1", SearchOpts{SearchText: "la", Skip: 50, Limit: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RefreshToken(ctx, AppCredentials{ClientID: "cid", ClientSecret: "csecret"}, "refresh-1", UserTypeLocation); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LocationToken(ctx, "co1", "loc1"); err != nil {
		t.Fatal(err)
	}
	got := srv.seen()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}

	list := got[0]
	if list.Method != "GET" || list.Path != "/social-media-posting/loc1/tags" {
		t.Errorf("list request %s %s", list.Method, list.Path)
	}
	q, _ := url.ParseQuery(list.Query)
	if diff := cmp.Diff(url.Values{"searchText": {"la"}, "skip": {"50"}, "limit": {"50"}}, q); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	for h, want := range map[string]string{"Version": APIVersion, "Accept": "application/json", "Authorization": "Bearer " + testToken, "User-Agent": "test-agent"} {
		if v := list.Header.Get(h); v != want {
			t.Errorf("list header %s = %q, want %q", h, v, want)
		}
	}

	tok := got[1]
	if tok.Header.Get("Authorization") != "" || tok.Header.Get("Version") != "" {
		t.Errorf("/oauth/token sent Authorization %q / Version %q", tok.Header.Get("Authorization"), tok.Header.Get("Version"))
	}
	if ct := tok.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("/oauth/token content type %q", ct)
	}
	form, _ := url.ParseQuery(tok.Body)
	wantForm := url.Values{"client_id": {"cid"}, "client_secret": {"csecret"}, "grant_type": {"refresh_token"}, "refresh_token": {"refresh-1"}, "user_type": {"Location"}}
	if diff := cmp.Diff(wantForm, form); diff != "" {
		t.Errorf("token form (-want +got):\n%s", diff)
	}

	lt := got[2]
	if lt.Header.Get("Version") != APIVersion || lt.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("/oauth/locationToken headers %v", lt.Header)
	}
	if form, _ := url.ParseQuery(lt.Body); form.Get("companyId") != "co1" || form.Get("locationId") != "loc1" {
		t.Errorf("/oauth/locationToken form %q", lt.Body)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
			reply(429, map[string]any{"statusCode": 429, "message": "Too Many Requests"}, "Retry-After", "7", "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "0"),
			reply(200, tagsOK, "X-RateLimit-Max", "100", "X-RateLimit-Remaining", "99"),
		}}
		var mu sync.Mutex
		var infos []ResponseInfo
		c := newFakeClient(t, srv, Options{OnResponse: func(ri ResponseInfo) {
			mu.Lock()
			defer mu.Unlock()
			infos = append(infos, ri)
		}})
		start := time.Now()
		res, err := c.ListSocialTags(context.Background(), "loc1", SearchOpts{})
		if err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed != 7*time.Second {
			t.Errorf("waited %v, want exactly the Retry-After of 7s", elapsed)
		}
		if len(res.Tags) != 1 {
			t.Errorf("tags = %v", res.Tags)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(infos) != 2 || infos[0].StatusCode != 429 || infos[1].StatusCode != 200 || infos[1].Attempt != 2 {
			t.Fatalf("OnResponse saw %+v", infos)
		}
		if infos[0].RateLimit.Remaining != 0 || infos[1].RateLimit.Remaining != 99 || !infos[1].RateLimit.Present || infos[0].Location != "loc1" {
			t.Errorf("rate limits reported: %+v / %+v", infos[0], infos[1])
		}
		if rl, ok := c.LastRateLimit("loc1"); !ok || rl.Remaining != 99 {
			t.Errorf("LastRateLimit = %+v, %v", rl, ok)
		}
	})
}

func TestRetryAfterHTTPDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
			func(w http.ResponseWriter, r *http.Request) {
				reply(503, "busy", "Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))(w, r)
			},
			reply(200, tagsOK),
		}}
		c := newFakeClient(t, srv, Options{})
		start := time.Now()
		if _, err := c.ListSocialTags(context.Background(), "loc1", SearchOpts{}); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed != 5*time.Second {
			t.Errorf("waited %v, want 5s", elapsed)
		}
	})
}

func TestRetriesAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
			reply(500, map[string]any{"statusCode": 500, "message": "Internal server error"}),
		}}
		c := newFakeClient(t, srv, Options{MaxRetries: 3, InitialBackoff: 100 * time.Millisecond})
		start := time.Now()
		_, err := c.Accounts(context.Background(), "loc1")
		elapsed := time.Since(start)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindRetryable || e.StatusCode != 500 || e.Attempts != 4 {
			t.Fatalf("err = %#v", err)
		}
		if n := len(srv.seen()); n != 4 {
			t.Errorf("%d attempts, want 1 + MaxRetries = 4", n)
		}
		// 100, 200, 400 ms, each ±50%.
		if elapsed < 350*time.Millisecond || elapsed > 1050*time.Millisecond {
			t.Errorf("backoff took %v, want within [350ms, 1050ms]", elapsed)
		}
	})
}

func TestRetryResendsBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
			reply(502, "<html>bad gateway</html>"),
			reply(201, Envelope[TagsResults]{Success: true, StatusCode: 201, Results: TagsResults{Tags: []SocialTag{{ID: "a"}, {ID: "b"}}}}),
		}}
		c := newFakeClient(t, srv, Options{})
		tags, err := c.TagDetails(context.Background(), "loc1", []string{"a", "b", "a", ""})
		if err != nil {
			t.Fatal(err)
		}
		if len(tags) != 2 {
			t.Errorf("tags = %v", tags)
		}
		seen := srv.seen()
		if len(seen) != 2 {
			t.Fatalf("%d attempts, want 2", len(seen))
		}
		want := `{"tagIds":["a","b"]}`
		for i, r := range seen {
			if r.Body != want {
				t.Errorf("attempt %d body %q, want %q", i+1, r.Body, want)
			}
		}
	})
}

func TestCreateRetryPolicy(t *testing.T) {
	created := map[string]any{"customValue": map[string]any{"id": "cv1", "name": "n", "value": "v"}}
	tests := []struct {
		name     string
		first    func(http.ResponseWriter, *http.Request)
		wantErr  Kind
		wantReqs int
	}{
		{"5xx is not retried", reply(500, map[string]any{"message": "boom"}), KindRetryable, 1},
		{"429 is retried", reply(429, map[string]any{"message": "slow down"}, "Retry-After", "1"), -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){tt.first, reply(201, created)}}
				c := newFakeClient(t, srv, Options{})
				cv, err := c.CreateCustomValue(context.Background(), "loc1", "n", "v")
				if tt.wantErr >= 0 {
					var e *Error
					if !errors.As(err, &e) || e.Kind != tt.wantErr {
						t.Fatalf("err = %v, want class %v", err, tt.wantErr)
					}
				} else if err != nil || cv.ID != "cv1" {
					t.Fatalf("CreateCustomValue = %+v, %v", cv, err)
				}
				if n := len(srv.seen()); n != tt.wantReqs {
					t.Errorf("%d requests, want %d", n, tt.wantReqs)
				}
			})
		})
	}
}

func TestTransportErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls int
		ok := httptest.NewRecorder()
		ok.WriteHeader(200)
		ok.WriteString(`{"tag":{"id":"lt1","name":"vip","locationId":"loc1"}}`)
		hc := &http.Client{Transport: transportFunc(func(*http.Request) (*http.Response, error) {
			calls++
			switch calls {
			case 1:
				return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
			case 2:
				return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
			}
			return ok.Result(), nil
		})}
		c := newFakeClient(t, nil, Options{HTTPClient: hc})
		// A refused dial is retried even for a create; a reset after
		// sending is not, since the tag may have been created.
		_, err := c.CreateLocationTag(context.Background(), "loc1", "vip")
		if !IsRetryable(err) || !errors.Is(err, syscall.ECONNRESET) || calls != 2 {
			t.Fatalf("err = %v after %d calls; want the reset, unretried, after 2", err, calls)
		}
		if strings.Contains(err.Error(), "ghl.test") {
			t.Errorf("error names the URL: %v", err)
		}
		calls = 1 // next: reset, then success
		tags, err := c.LocationTags(context.Background(), "loc1")
		if err != nil || calls != 3 {
			t.Fatalf("LocationTags = %v, %v after %d calls", tags, err, calls)
		}
	})
}

func TestContextCancellation(t *testing.T) {
	t.Run("deadline during request", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){hang}}
			c := newFakeClient(t, srv, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Accounts(ctx, "loc1")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want deadline exceeded", err)
			}
			if elapsed := time.Since(start); elapsed != 2*time.Second {
				t.Errorf("returned after %v, want 2s", elapsed)
			}
			if n := len(srv.seen()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
		})
	})
	t.Run("cancel during Retry-After wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
				reply(429, map[string]any{"message": "Too Many Requests"}, "Retry-After", "20"),
			}}
			c := newFakeClient(t, srv, Options{})
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(5*time.Second, cancel)
			start := time.Now()
			_, err := c.Accounts(ctx, "loc1")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want canceled", err)
			}
			if d, ok := IsRateLimited(err); !ok || d != 20*time.Second {
				t.Errorf("IsRateLimited = %v, %v; the last attempt's 429 should be kept", d, ok)
			}
			if elapsed := time.Since(start); elapsed != 5*time.Second {
				t.Errorf("returned after %v, want 5s", elapsed)
			}
		})
	})
	t.Run("Retry-After beyond deadline returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
				reply(429, map[string]any{"message": "Too Many Requests"}, "Retry-After", "30"),
			}}
			c := newFakeClient(t, srv, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.Accounts(ctx, "loc1")
			if d, ok := IsRateLimited(err); !ok || d != 30*time.Second {
				t.Fatalf("err = %v, want rate limited with 30s", err)
			}
			if elapsed := time.Since(start); elapsed != 0 {
				t.Errorf("returned after %v, want at once", elapsed)
			}
		})
	})
	t.Run("Retry-After beyond MaxRetryWait returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
				reply(429, map[string]any{"message": "Too Many Requests"}, "Retry-After", "120"),
			}}
			c := newFakeClient(t, srv, Options{MaxRetryWait: time.Minute})
			_, err := c.Accounts(context.Background(), "loc1")
			if d, ok := IsRateLimited(err); !ok || d != 2*time.Minute || len(srv.seen()) != 1 {
				t.Fatalf("err = %v after %d requests", err, len(srv.seen()))
			}
		})
	})
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){hang, reply(200, tagsOK)}}
		c := newFakeClient(t, srv, Options{AttemptTimeout: time.Second, InitialBackoff: 10 * time.Millisecond})
		start := time.Now()
		if _, err := c.ListSocialTags(context.Background(), "loc1", SearchOpts{}); err != nil {
			t.Fatal(err)
		}
		if elapsed := time.Since(start); elapsed < time.Second || elapsed > 1100*time.Millisecond {
			t.Errorf("took %v, want the 1s attempt timeout plus a short backoff", elapsed)
		}
	})
}

func TestErrorResponses(t *testing.T) {
	tests := []struct {
		name      string
		resp      func(http.ResponseWriter, *http.Request)
		wantClass Kind
		wantMsgs  []string
		wantTrace string
		wantStr   string
	}{
		{
			name:      "422 array",
			resp:      reply(422, map[string]any{"statusCode": 422, "message": []string{"tags must be an array"}, "error": "Unprocessable Entity", "traceId": "1234"}),
			wantClass: KindPermanent,
			wantMsgs:  []string{"tags must be an array"},
			wantTrace: "1234",
			wantStr:   "ghl: POST /contacts/{contactId}/tags: 422 Unprocessable Entity: tags must be an array (trace 1234)",
		},
		{
			name:      "401",
			resp:      reply(401, map[string]any{"statusCode": 401, "message": "Invalid JWT"}),
			wantClass: KindAuth,
			wantMsgs:  []string{"Invalid JWT"},
		},
		{
			name:      "502 html",
			resp:      reply(502, "<html>\n<h1>502   Bad Gateway</h1></html>"),
			wantClass: KindRetryable,
			wantMsgs:  []string{"<html> <h1>502 Bad Gateway</h1></html>"},
		},
		{
			name:      "server echoes the token",
			resp:      reply(401, map[string]any{"message": "token " + testToken + " is invalid"}),
			wantClass: KindAuth,
			wantMsgs:  []string{"token [redacted] is invalid"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){tt.resp}}
				c := newFakeClient(t, srv, Options{MaxRetries: -1, OnResponse: func(ResponseInfo) {}})
				_, err := c.AddContactTags(context.Background(), "c1", []string{"vip"})
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if e.Kind != tt.wantClass || !cmp.Equal(e.Messages, tt.wantMsgs) || e.TraceID != tt.wantTrace {
					t.Errorf("got class %v messages %q trace %q", e.Kind, e.Messages, e.TraceID)
				}
				if tt.wantStr != "" && e.Error() != tt.wantStr {
					t.Errorf("Error() = %q, want %q", e.Error(), tt.wantStr)
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("token in error: %v", err)
				}
			})
		})
	}
}

func TestUnreadableSuccessBody(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(200, "not json")}}
	c := newFakeClient(t, srv, Options{})
	_, err := c.Accounts(context.Background(), "loc1")
	if !errors.Is(err, ErrUnexpectedResponse) || !errors.Is(err, ErrPermanent) || len(srv.seen()) != 1 {
		t.Fatalf("err = %v", err)
	}
}

type failingSource struct{ err error }

func (f failingSource) Token() (*oauth2.Token, error) { return nil, f.err }

func TestTokenSourceProblems(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(200, tagsOK)}}
	c := newFakeClient(t, srv, Options{TokenSource: failingSource{errors.New("no credentials for loc1")}})
	if _, err := c.Accounts(context.Background(), "loc1"); !IsAuth(err) {
		t.Errorf("failing source: err = %v, want auth", err)
	}
	transient := &Error{Kind: KindRetryable, Method: "POST", Path: "/oauth/token", StatusCode: 503}
	if _, err := c.ForLocation("loc1", failingSource{transient}).Accounts(context.Background(), "loc1"); !IsRetryable(err) {
		t.Errorf("source failing with a 503: err = %v, want retryable", err)
	}
	noTok, _ := New(Options{BaseURL: "https://ghl.test", HTTPClient: &http.Client{Transport: handlerTransport{srv}}})
	if _, err := noTok.Accounts(context.Background(), "loc1"); !errors.Is(err, ErrNoToken) || !IsAuth(err) {
		t.Errorf("no source: err = %v", err)
	}
	if n := len(srv.seen()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
}

func TestInvalidArguments(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(200, tagsOK)}}
	c := newFakeClient(t, srv, Options{})
	ctx := context.Background()
	calls := map[string]func() error{
		"empty location":    func() error { _, err := c.Accounts(ctx, ""); return err },
		"empty post id":     func() error { _, err := c.GetPost(ctx, "loc1", ""); return err },
		"no profile ids":    func() error { _, err := c.Statistics(ctx, "loc1", []string{""}, nil); return err },
		"no tags":           func() error { _, err := c.AddContactTags(ctx, "c1", nil); return err },
		"no bulk contacts":  func() error { _, err := c.BulkAddTags(ctx, "loc1", nil, []string{"x"}); return err },
		"no search loc":     func() error { _, err := c.SearchContacts(ctx, SearchContactsRequest{}); return err },
		"no refresh token":  func() error { _, err := c.RefreshToken(ctx, AppCredentials{}, "", ""); return err },
		"no company for lt": func() error { _, err := c.LocationToken(ctx, "", "loc1"); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if n := len(srv.seen()); n != 0 {
		t.Errorf("%d requests sent for invalid arguments", n)
	}
	if _, err := New(Options{BaseURL: "ftp://x"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("New with a bad base URL: %v", err)
	}
}

func TestPathEscaping(t *testing.T) {
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(200, Envelope[PostResults]{Results: PostResults{Post: Post{ID: "p/1"}}})}}
	c := newFakeClient(t, srv, Options{BaseURL: "https://ghl.test/prefix/"})
	if _, err := c.GetPost(context.Background(), "loc1", "p/1?x=y"); err != nil {
		t.Fatal(err)
	}
	if got := srv.seen()[0].Path; got != "/prefix/social-media-posting/loc1/posts/p/1?x=y" {
		t.Errorf("decoded path %q", got)
	}
	if q := srv.seen()[0].Query; q != "" {
		t.Errorf("id leaked into the query: %q", q)
	}
}

func TestAllSocialTagsStopsOnRepeatedPages(t *testing.T) {
	full := make([]SocialTag, TagPageLimit)
	for i := range full {
		full[i] = SocialTag{ID: string(rune('A' + i))}
	}
	srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(200, Envelope[TagsResults]{Results: TagsResults{Tags: full}})}}
	c := newFakeClient(t, srv, Options{})
	_, err := c.AllSocialTags(context.Background(), "loc1")
	if !errors.Is(err, ErrUnexpectedResponse) || len(srv.seen()) != 2 {
		t.Fatalf("err = %v after %d requests; a server ignoring skip must not loop", err, len(srv.seen()))
	}
}

func TestBulkFailed(t *testing.T) {
	tests := []struct {
		name string
		resp BulkTagsResponse
		want []string // contact ids of failures
	}{
		{"all good", BulkTagsResponse{Succeeded: true, Responses: []BulkTagOutcome{{ContactID: "a", Type: "success"}}}, nil},
		{"listed", BulkTagsResponse{Succeeded: false, ErrorCount: 2, Responses: []BulkTagOutcome{
			{ContactID: "a", Type: "success"}, {ContactID: "b", Type: "error", Message: "contact is deleted"}, {ContactID: "c", Type: "error"}}}, []string{"b", "c"}},
		{"count without items", BulkTagsResponse{Succeeded: true, ErrorCount: 1}, []string{""}},
		{"not succeeded, no items", BulkTagsResponse{Succeeded: false}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(201, tt.resp)}}
			c := newFakeClient(t, srv, Options{})
			resp, err := c.BulkRemoveTags(context.Background(), "loc1", []string{"a", "b", "c"}, []string{"vip"})
			var ids []string
			for _, f := range tt.resp.Failed() {
				ids = append(ids, f.ContactID)
			}
			if !cmp.Equal(ids, tt.want) {
				t.Errorf("Failed() ids = %q, want %q", ids, tt.want)
			}
			var be *BulkError
			if (tt.want != nil) != errors.As(err, &be) {
				t.Fatalf("err = %v", err)
			}
			if be != nil && (be.Op != "remove" || be.Total != 3 || len(be.Failures) != len(tt.want)) {
				t.Errorf("BulkError = %+v", be)
			}
			if !cmp.Equal(resp, tt.resp) {
				t.Errorf("response not returned with the error: %+v", resp)
			}
		})
	}
}
