package creds_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

func staticToken(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}

// fleetRun is the outcome of runFleet.
type fleetRun struct {
	refreshes   int // POST /oauth/token answered 200
	failures    int // POST /oauth/token answered anything else
	generations int // distinct access tokens handed out
	rejected    []error
	tokens      []creds.Token
	elapsed     time.Duration
}

// runFleet connects a location with OAuth, then has procs Stores (each on
// its own NATS connection, like replicas) with workers goroutines each ask
// for its token, and check it with the simulator, for d. The simulator's
// access tokens live ttl.
func runFleet(t testing.TB, ttl time.Duration, procs, workers int, d time.Duration, log *syncLog) fleetRun {
	t.Helper()
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, ttl.String(), nil)
	keys := keyring(t)
	loc := s.Locations()[0].ID
	first := s.authorize(t, loc, "", ghl.UserTypeLocation)
	ctx := context.Background()

	var stores []*creds.Store
	for i := range procs {
		p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)),
			creds.WithLogger(log.logger()), creds.WithOwner(fmt.Sprintf("replica-%d", i)))
		stores = append(stores, p.store)
	}
	if err := stores[0].AddOAuth(ctx, creds.Location{ID: loc}, first); err != nil {
		t.Fatal(err)
	}
	before := s.tokenCalls(t)

	var (
		mu       sync.Mutex
		seen     = map[string]bool{first.AccessToken: true}
		rejected []error
		wg       sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for _, st := range stores {
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ts := st.TokenSource(loc)
				for time.Now().Before(stop) {
					tok, err := ts.Token()
					if err == nil {
						err = s.accepts(t, loc, tok.AccessToken)
					}
					mu.Lock()
					if err != nil {
						rejected = append(rejected, err)
					} else {
						seen[tok.AccessToken] = true
					}
					mu.Unlock()
					time.Sleep(15 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	run := fleetRun{generations: len(seen), rejected: rejected, elapsed: time.Since(start)}
	for status, n := range s.tokenCalls(t) {
		n -= before[status]
		if status == http.StatusOK {
			run.refreshes += n
		} else {
			run.failures += n
		}
	}
	last, err := stores[0].Token(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	run.tokens = []creds.Token{first, last}
	return run
}

// Three processes with four callers each share a location whose access
// tokens live two seconds and whose refresh tokens are single use: every
// token is refreshed exactly once, no refresh token is ever reused
// (invalid_grant), and every token handed out works.
func TestOneRefreshPerExpiryAcrossProcesses(t *testing.T) {
	var log syncLog
	const ttl, d = 2 * time.Second, 8 * time.Second
	run := runFleet(t, ttl, 3, 4, d, &log)
	t.Logf("%d refreshes, %d other token endpoint answers, %d generations in %s", run.refreshes, run.failures, run.generations, run.elapsed.Round(time.Millisecond))
	if run.failures != 0 {
		t.Errorf("token endpoint answered %d times with an error (invalid_grant: a refresh token was reused)", run.failures)
	}
	if len(run.rejected) != 0 {
		t.Errorf("%d tokens handed out failed; first: %v", len(run.rejected), run.rejected[0])
	}
	// Each refresh made one generation, and each generation but the last
	// was refreshed once: refreshes per expiry is exactly 1.
	if run.refreshes != run.generations-1 {
		t.Errorf("%d refreshes for %d generations: want one refresh per generation", run.refreshes, run.generations)
	}
	// A token is refreshed no earlier than half-way through its life, and
	// must be refreshed before it expires.
	if maxN := int(run.elapsed/(ttl/2)) + 1; run.refreshes > maxN || run.refreshes < 2 {
		t.Errorf("%d refreshes in %s with %s tokens: want 2 to %d", run.refreshes, run.elapsed, ttl, maxN)
	}
	if leaked := secretsIn(log.String(), run.tokens...); len(leaked) > 0 {
		t.Errorf("log output holds tokens %v", leaked)
	}
}

// BenchmarkRefreshesPerExpiry reports token refreshes per expiry (target
// exactly 1) for 3 processes × 4 callers on one location with 2-second
// tokens, over 6 seconds a run.
func BenchmarkRefreshesPerExpiry(b *testing.B) {
	var refreshes, generations, failures int
	for b.Loop() {
		run := runFleet(b, 2*time.Second, 3, 4, 6*time.Second, &syncLog{})
		refreshes += run.refreshes
		generations += run.generations - 1
		failures += run.failures
	}
	b.ReportMetric(float64(refreshes)/float64(max(generations, 1)), "refreshes/expiry")
	b.ReportMetric(float64(failures), "invalid_grants")
}

// openOAuth connects the first demo location with OAuth tokens living ttl
// and returns the simulator, the location, the token and the Store.
func openOAuth(t *testing.T, env *bustest.Env, keys *creds.Keyring, ttl string, log *syncLog) (*sim, string, creds.Token, *creds.Store) {
	t.Helper()
	s := startSim(t, ttl, nil)
	loc := s.Locations()[0].ID
	tok := s.authorize(t, loc, "", ghl.UserTypeLocation)
	p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)), creds.WithLogger(log.logger()))
	if err := p.store.AddOAuth(context.Background(), creds.Location{ID: loc, Name: "Bakery", Timezone: "Europe/Berlin"}, tok); err != nil {
		t.Fatal(err)
	}
	return s, loc, tok, p.store
}

// rawRecord returns the token record of loc as stored, and its revision.
func rawRecord(t *testing.T, js jetstream.JetStream, loc string) (map[string]any, uint64) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return rec, e.Revision()
}

func putRawRecord(t *testing.T, js jetstream.JetStream, loc string, rec map[string]any) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if _, err := kv.Put(context.Background(), loc, b); err != nil {
		t.Fatal(err)
	}
}

// lastLocationEvent returns the latest LocationStateChanged of loc.
func lastLocationEvent(t *testing.T, js jetstream.JetStream, loc string) (*socialsyncv1.LocationStateChanged, bool) {
	t.Helper()
	ctx := context.Background()
	st, err := js.Stream(ctx, topology.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.LocationEvents.Subject(loc)
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	var ev socialsyncv1.LocationStateChanged
	if err := bus.Unmarshal(m.Header, m.Data, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev, true
}

// A refresh token that HighLevel rejects (here: one already spent, put
// back into the record) marks the location as needing re-authorisation,
// publishes the change, and stops calls for the location without asking
// the token endpoint again, in every process. Connecting the location
// again makes it active.
func TestInvalidGrantNeedsReauth(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	keys := keyring(t)
	var log syncLog
	s, loc, first, store := openOAuth(t, env, keys, "4s", &log)
	ctx := context.Background()

	// Spend the stored refresh token behind the store's back, as a
	// refresher that crashed before storing its answer would have.
	if _, err := s.client(t).RefreshToken(ctx, s.App, first.RefreshToken, ghl.UserTypeLocation); err != nil {
		t.Fatal(err)
	}
	due := first
	due.ExpiresAt = time.Now().Add(-time.Second)
	if err := store.PutToken(ctx, loc, due); err != nil {
		t.Fatal(err)
	}
	before := s.tokenCalls(t)

	procs := []*creds.Store{store}
	for range 2 {
		procs = append(procs, openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App))).store)
	}
	var wg sync.WaitGroup
	var errs sync.Map
	for i, st := range procs {
		for j := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.TokenSource(loc).Token()
				errs.Store(fmt.Sprint(i, j), err)
			}()
		}
	}
	wg.Wait()
	errs.Range(func(k, v any) bool {
		if err, _ := v.(error); !errors.Is(err, creds.ErrNeedsReauth) {
			t.Errorf("caller %v: err = %v, want ErrNeedsReauth", k, err)
		}
		return true
	})
	calls := s.tokenCalls(t)
	if n := calls[http.StatusBadRequest] - before[http.StatusBadRequest]; n != 1 || calls[http.StatusOK] != before[http.StatusOK] {
		t.Errorf("token endpoint: %d rejections and %d successes, want exactly 1 rejection", n, calls[http.StatusOK]-before[http.StatusOK])
	}

	l, err := store.Location(ctx, loc)
	if err != nil || l.State != creds.StateNeedsReauth || !strings.Contains(l.Reason, "invalid_grant") {
		t.Errorf("location = %+v, %v; want needs_reauth naming invalid_grant", l, err)
	}
	ev, ok := lastLocationEvent(t, env.JS, loc)
	if !ok || ev.GetState() != socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH || ev.GetPreviousState() != socialsyncv1.LocationState_LOCATION_STATE_ACTIVE || ev.GetReason() == "" {
		t.Errorf("event = %v, %v; want NEEDS_REAUTH from ACTIVE with a reason", ev, ok)
	}

	// Through the HighLevel client: no request, an auth error on which the
	// bus defers the message until the location is reconnected, naming the location and the way out.
	c := s.client(t).ForLocation(loc, store.TokenSource(loc))
	_, err = c.ListSocialTags(ctx, loc, ghl.SearchOpts{})
	if class, _ := bus.Classify(err); class != bus.ClassAuth || !errors.Is(err, creds.ErrNeedsReauth) || !strings.Contains(err.Error(), "socialsync connect") {
		t.Errorf("call for a location needing re-authorisation: %v (class %s), want ErrNeedsReauth classified auth", err, class)
	}
	if after := s.tokenCalls(t); after[http.StatusBadRequest] != calls[http.StatusBadRequest] || after[http.StatusOK] != calls[http.StatusOK] {
		t.Errorf("the token endpoint was called again: %v then %v", calls, after)
	}
	for _, e := range s.requests(t) {
		if e.Location == loc && strings.Contains(e.Path, "/tags") {
			t.Errorf("a call was made for the location: %+v", e)
		}
	}

	// Connected again: active, an event, tokens that work.
	again := s.authorize(t, loc, "", ghl.UserTypeLocation)
	if err := store.AddOAuth(ctx, creds.Location{ID: loc}, again); err != nil {
		t.Fatal(err)
	}
	if l, _ := store.Location(ctx, loc); l.State != creds.StateActive || l.Timezone != "Europe/Berlin" || l.Name != "Bakery" {
		t.Errorf("after reconnecting: %+v, want active with its name and time zone kept", l)
	}
	if ev, _ := lastLocationEvent(t, env.JS, loc); ev.GetState() != socialsyncv1.LocationState_LOCATION_STATE_ACTIVE {
		t.Errorf("after reconnecting: event %v", ev)
	}
	if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
		t.Errorf("after reconnecting: %v", err)
	}
	if leaked := secretsIn(log.String()+fmt.Sprint(err), first, again); len(leaked) > 0 {
		t.Errorf("tokens in logs or errors: %v", leaked)
	}
}

// loseAnswers makes the next n POST /oauth/token requests fail: with
// before set, a 502 that never reaches the simulator; otherwise the
// simulator processes them (spending the refresh token) and the answer is
// dropped, as by a connection that breaks mid-response.
// It counts the requests to the token endpoint in calls.
type loseAnswers struct {
	n      atomic.Int32
	calls  atomic.Int32
	before bool
}

func (l *loseAnswers) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isToken := r.Method == http.MethodPost && r.URL.Path == "/oauth/token"
		if isToken {
			l.calls.Add(1)
		}
		if !isToken || l.n.Add(-1) < 0 {
			next.ServeHTTP(w, r)
			return
		}
		if l.before {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		next.ServeHTTP(discard{}, r)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// A refresh whose answer is lost is asked once more with the same refresh
// token: if the first request was processed, the token is spent and the
// location needs re-authorisation (two calls, not more); if it was not,
// the second one succeeds. If the token endpoint does not answer at all,
// nothing is settled: the location stays active, refreshes pause (no call
// meanwhile), and the first attempt after the pause succeeds.
func TestLostRefreshAnswer(t *testing.T) {
	for _, tt := range []struct {
		name       string
		lose       int32
		before     bool
		wantCalls  int
		wantReauth bool
		wantPause  bool
	}{
		{"processed then lost", 1, false, 2, true, false},
		{"lost before processing", 1, true, 2, false, false},
		{"token endpoint down", 2, true, 2, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := bustest.Start(t, topology.Options{})
			fault := &loseAnswers{before: tt.before}
			s := startSim(t, "", fault.wrap)
			loc := s.Locations()[0].ID
			tok := s.authorize(t, loc, "", ghl.UserTypeLocation)
			tok.ExpiresAt = time.Now().Add(-time.Second)
			var offset atomic.Int64
			clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
			p := openProcess(t, env, keyring(t), creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)), creds.WithClock(clock))
			ctx := context.Background()
			if err := p.store.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
				t.Fatal(err)
			}
			base := fault.calls.Load()
			tokenCalls := func() int { return int(fault.calls.Load() - base) }
			fault.n.Store(tt.lose)
			got, err := p.store.TokenSource(loc).Token()
			if n := tokenCalls(); n != tt.wantCalls {
				t.Errorf("%d calls to the token endpoint, want %d", n, tt.wantCalls)
			}
			switch {
			case tt.wantReauth:
				if !errors.Is(err, creds.ErrNeedsReauth) || !strings.Contains(err.Error(), "lost") {
					t.Fatalf("Token(): %v; want ErrNeedsReauth naming the lost answer", err)
				}
				return
			case tt.wantPause:
				if class, _ := bus.Classify(err); class != bus.ClassRetryable || errors.Is(err, creds.ErrNeedsReauth) {
					t.Fatalf("Token(): %v (class %s); want a retryable error", err, class)
				}
				if l, _ := p.store.Location(ctx, loc); l.State != creds.StateActive {
					t.Errorf("state %s, want active: nothing proves the refresh token spent", l.State)
				}
				// Through the HighLevel client, the message is retried later.
				c := s.client(t).ForLocation(loc, p.store.TokenSource(loc))
				_, cerr := c.ListSocialTags(ctx, loc, ghl.SearchOpts{})
				if class, _ := bus.Classify(cerr); class != bus.ClassRetryable || tokenCalls() != tt.wantCalls {
					t.Errorf("during the pause: %v (class %s), %d token calls; want a retryable error and no call", cerr, class, tokenCalls())
				}
				offset.Store(int64(time.Minute)) // past the pause
				got, err = p.store.TokenSource(loc).Token()
				if n := tokenCalls(); n != tt.wantCalls+1 {
					t.Errorf("after the pause: %d calls, want %d", n, tt.wantCalls+1)
				}
			}
			if err != nil || s.accepts(t, loc, got.AccessToken) != nil {
				t.Fatalf("Token(): %v; want a working token", err)
			}
			if rec, _ := rawRecord(t, env.JS, loc); rec["pause"] != nil || rec["lease"] != nil {
				t.Errorf("record keeps %v, %v after a successful refresh", rec["pause"], rec["lease"])
			}
		})
	}
}

// A 401 makes the HighLevel client invalidate the token: it is refreshed
// once and the call retried once. A 401 for a missing scope costs no
// refresh and no retry.
func TestUnauthorizedRefreshesOnceAndRetries(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	keys := keyring(t)
	s := startSim(t, "1s", nil)
	loc := s.Locations()[0].ID
	ctx := context.Background()
	p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)))

	// The record claims a day of validity; HighLevel's clock disagrees.
	tok := s.authorize(t, loc, "", ghl.UserTypeLocation)
	tok.ObtainedAt, tok.ExpiresAt = time.Now().Add(-time.Hour), time.Now().Add(23*time.Hour)
	if err := p.store.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the simulator to reject the token", func() bool { return ghl.IsAuth(s.accepts(t, loc, tok.AccessToken)) })
	s.admin(t, http.MethodPut, "/_sandbox/config", map[string]any{"accessTokenTTL": "1h"}, nil)
	before := len(s.requests(t))
	c := s.client(t).ForLocation(loc, p.store.TokenSource(loc))
	if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{Limit: 1}); err != nil {
		t.Fatalf("call after a 401: %v", err)
	}
	var got []string
	for _, e := range s.requests(t)[before:] {
		got = append(got, fmt.Sprintf("%s %s %d", e.Method, strings.SplitN(e.Path, "?", 2)[0], e.Status))
	}
	want := []string{"GET /social-media-posting/" + loc + "/tags 401", "POST /oauth/token 200", "GET /social-media-posting/" + loc + "/tags 200"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %q, want %q", got, want)
	}

	// A token without the tags scope: 401, no retry, no refresh.
	narrow := s.authorize(t, loc, "contacts.readonly", ghl.UserTypeLocation)
	if err := p.store.AddOAuth(ctx, creds.Location{ID: loc}, narrow); err != nil {
		t.Fatal(err)
	}
	before = len(s.requests(t))
	_, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{Limit: 1})
	if class, _ := bus.Classify(err); class != bus.ClassAuth {
		t.Errorf("missing scope: %v (class %s), want an auth error", err, class)
	}
	var tokenCalls, tagCalls int
	for _, e := range s.requests(t)[before:] {
		switch {
		case e.Path == "/oauth/token":
			tokenCalls++
		case strings.Contains(e.Path, "/tags"):
			tagCalls++
		}
	}
	if tokenCalls != 0 || tagCalls != 1 {
		t.Errorf("missing scope: %d token calls and %d tag calls, want 0 and 1", tokenCalls, tagCalls)
	}
	var se *ghl.ScopeError
	if !errors.As(err, &se) || se.MissingScope() != "socialplanner/tag.readonly" {
		t.Errorf("missing scope: err = %v, want a ScopeError for socialplanner/tag.readonly", err)
	}
}

// A lease left by a refresher that died is taken over once it expires;
// until then the current token is used while it lasts, and callers wait
// for the lease when it no longer does.
func TestCrashedRefresherLeaseIsTakenOver(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	keys := keyring(t)
	var log syncLog
	s, loc, tok, _ := openOAuth(t, env, keys, "", &log)
	p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)),
		creds.WithLeaseTTL(3*time.Second), creds.WithRefreshTimeout(time.Second), creds.WithWaitTimeout(5*time.Second))
	ctx := context.Background()

	// Due for refresh but still valid, leased by a dead process: used as is.
	tok.ObtainedAt, tok.ExpiresAt = time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
	if err := p.store.PutToken(ctx, loc, tok); err != nil {
		t.Fatal(err)
	}
	rec, _ := rawRecord(t, env.JS, loc)
	until := time.Now().Add(1500 * time.Millisecond)
	rec["lease"] = map[string]any{"owner": "dead-replica", "until": until}
	putRawRecord(t, env.JS, loc, rec)
	got, err := p.store.TokenSource(loc).Token()
	if err != nil || got.AccessToken != tok.AccessToken {
		t.Fatalf("leased, still valid: %v, want the current token", err)
	}
	// Expired: the caller waits for the lease to lapse, then refreshes.
	tok.ExpiresAt = time.Now().Add(-time.Second)
	if err := p.store.PutToken(ctx, loc, tok); err != nil {
		t.Fatal(err)
	}
	putRawRecord(t, env.JS, loc, func() map[string]any { r, _ := rawRecord(t, env.JS, loc); r["lease"] = rec["lease"]; return r }())
	got, err = p.store.TokenSource(loc).Token()
	if err != nil || got.AccessToken == tok.AccessToken || time.Now().Before(until) {
		t.Fatalf("expired, leased by a dead process: %v at %s (lease until %s); want a new token after the lease", err, time.Now().Format(time.StampMilli), until.Format(time.StampMilli))
	}
	if err := s.accepts(t, loc, got.AccessToken); err != nil {
		t.Fatal(err)
	}
	if rec, _ := rawRecord(t, env.JS, loc); rec["lease"] != nil {
		t.Errorf("lease left after the refresh: %v", rec["lease"])
	}
}

// Tokens are sealed at rest, and the coordination fields beside them hold
// no secret.
func TestOAuthRecordHoldsNoPlaintext(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	var log syncLog
	_, loc, tok, store := openOAuth(t, env, keyring(t), "", &log)
	kv, _ := env.JS.KeyValue(context.Background(), topology.BucketTokens)
	e, err := kv.Get(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if leaked := secretsIn(string(e.Value()), tok); len(leaked) > 0 {
		t.Fatalf("record holds %v in plain text", leaked)
	}
	st, err := store.Status(context.Background(), loc)
	if err != nil || !st.CanRefresh || len(st.Scopes) == 0 || st.ExpiresAt.IsZero() || st.NeedsReauth != nil {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if leaked := secretsIn(fmt.Sprintf("%v %+v %#v", tok, st, tok), tok); len(leaked) > 0 {
		t.Errorf("printing reveals %v", leaked)
	}
	if !bytes.Contains(e.Value(), []byte(`"kid"`)) {
		t.Errorf("record is not sealed: %s", e.Value())
	}
}

// Wrong app credentials are the operator's problem, not the location's:
// the location is not marked, the refresh token is kept, and refreshes
// pause instead of asking the token endpoint on every call.
func TestWrongAppSecretDoesNotMarkTheLocation(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	keys := keyring(t)
	loc := s.Locations()[0].ID
	tok := s.authorize(t, loc, "", ghl.UserTypeLocation)
	tok.ExpiresAt = time.Now().Add(-time.Second)
	wrong := s.App
	wrong.ClientSecret = "not-the-secret"
	p := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), wrong)))
	ctx := context.Background()
	if err := p.store.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
		t.Fatal(err)
	}
	before := s.tokenCalls(t)[http.StatusUnauthorized]
	for range 3 {
		if _, err := p.store.TokenSource(loc).Token(); err == nil || errors.Is(err, creds.ErrNeedsReauth) {
			t.Fatalf("Token() err = %v, want a failure that is not ErrNeedsReauth", err)
		}
	}
	if n := s.tokenCalls(t)[http.StatusUnauthorized] - before; n != 1 {
		t.Errorf("%d refused calls to the token endpoint, want 1 then a pause", n)
	}
	if l, _ := p.store.Location(ctx, loc); l.State != creds.StateActive {
		t.Errorf("state %s, want active", l.State)
	}
	// The right secret, after the pause, refreshes the kept token.
	fixed := openProcess(t, env, keys, creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)),
		creds.WithClock(func() time.Time { return time.Now().Add(time.Minute) }))
	got, err := fixed.store.TokenSource(loc).Token()
	if err != nil || s.accepts(t, loc, got.AccessToken) != nil {
		t.Fatalf("after fixing the secret: %v", err)
	}
}

// BenchmarkTokenSource measures the fast path every HighLevel call takes:
// one read of the tokens bucket and one AES-GCM open.
func BenchmarkTokenSource(b *testing.B) {
	env := bustest.Start(b, topology.Options{})
	s := startSim(b, "", nil)
	loc := s.Locations()[0].ID
	p := openProcess(b, env, keyring(b), creds.WithRefresher(creds.NewRefresher(s.client(b), s.App)))
	if err := p.store.AddOAuth(context.Background(), creds.Location{ID: loc}, s.authorize(b, loc, "", ghl.UserTypeLocation)); err != nil {
		b.Fatal(err)
	}
	ts := p.store.TokenSource(loc)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ts.Token(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
