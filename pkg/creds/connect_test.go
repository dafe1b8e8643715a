package creds_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// An agency token connects every location where the app is installed,
// each with its own refreshable location token.
func TestConnectAgency(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	s := startSim(t, "", nil)
	p := openProcess(t, env, keyring(t), creds.WithRefresher(creds.NewRefresher(s.client(t), s.App)))
	ctx := context.Background()
	agency := s.authorize(t, "", "", ghl.UserTypeCompany)
	if agency.UserType != ghl.UserTypeCompany || agency.CompanyID == "" {
		t.Fatalf("agency token: %+v", agency)
	}
	locs, err := p.store.ConnectAgency(ctx, s.client(t), agency)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, l := range s.Locations() {
		want = append(want, l.ID)
	}
	for _, l := range locs {
		got = append(got, l.ID)
		// The location carries its agency, for webhook sources bound to
		// the company.
		if l.Auth != creds.AuthOAuth || l.State != creds.StateActive || l.Name == "" || l.CompanyID != agency.CompanyID {
			t.Errorf("stored %+v", l)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("connected %v, want every installed location %v", got, want)
	}
	for _, id := range got {
		tok, err := p.store.TokenSource(id).Token()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.accepts(t, id, tok.AccessToken); err != nil {
			t.Errorf("location %s: %v", id, err)
		}
	}
	// Location tokens from an agency refresh like any other.
	first := got[0]
	tok, err := p.store.Token(ctx, first)
	if err != nil || tok.RefreshToken == "" || tok.UserType != ghl.UserTypeLocation || tok.CompanyID != agency.CompanyID {
		t.Fatalf("stored token %+v (refresh token %t), %v", tok, tok.RefreshToken != "", err)
	}
	tok.ExpiresAt = time.Now().Add(-time.Second)
	if err := p.store.PutToken(ctx, first, tok); err != nil {
		t.Fatal(err)
	}
	// A record written before locations carried their company gets it
	// from the next refresh.
	locs0, err := env.JS.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		t.Fatal(err)
	}
	old := locs[0]
	for _, l := range locs {
		if l.ID == first {
			old = l
		}
	}
	old.CompanyID = ""
	b, _ := json.Marshal(old)
	if _, err := locs0.Put(ctx, first, b); err != nil {
		t.Fatal(err)
	}
	fresh, err := p.store.TokenSource(first).Token()
	if err != nil || fresh.AccessToken == tok.AccessToken {
		t.Fatalf("refresh of an agency-made location token: %v", err)
	}
	if l, err := p.store.Location(ctx, first); err != nil || l.CompanyID != agency.CompanyID {
		t.Errorf("after the refresh, location %s names company %q (%v), want %q", first, l.CompanyID, err, agency.CompanyID)
	}
	if err := s.accepts(t, first, fresh.AccessToken); err != nil {
		t.Error(err)
	}
}

// The callback hands over the code of a redirect carrying its state, and
// refuses one that does not.
func TestCallback(t *testing.T) {
	s := startSim(t, "", nil)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	start := func(t *testing.T) (*creds.Callback, *url.URL) {
		t.Helper()
		cb, err := creds.ListenCallback("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cb.Close() })
		oc := s.client(t).OAuthConfig(s.App, s.URL+"/oauth/chooselocation", cb.RedirectURI(), []string{"socialplanner/tag.readonly"})
		authURL, err := cb.AuthURL(oc)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := browser.Get(authURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		to, err := url.Parse(resp.Header.Get("Location"))
		if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(to.String(), cb.RedirectURI()) {
			t.Fatalf("chooselocation: %s to %q", resp.Status, resp.Header.Get("Location"))
		}
		return cb, to
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("state matches", func(t *testing.T) {
		cb, to := start(t)
		resp, err := browser.Get(to.String())
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("callback: %v, %v", resp, err)
		}
		resp.Body.Close()
		code, err := cb.Wait(ctx)
		if err != nil || code != to.Query().Get("code") {
			t.Fatalf("Wait() = %q, %v", code, err)
		}
		if _, err := s.client(t).ExchangeCode(ctx, s.App, code, cb.RedirectURI(), ghl.UserTypeLocation); err != nil {
			t.Errorf("exchange: %v", err)
		}
	})
	// A wrong state (a stray tab, a forged link, even one saying the
	// user denied access) is refused with 400 and the flow keeps waiting
	// for the right callback.
	t.Run("state differs", func(t *testing.T) {
		cb, to := start(t)
		for _, change := range []func(url.Values){
			func(q url.Values) { q.Set("state", "forged") },
			func(q url.Values) { q.Del("state") },
			func(q url.Values) { q.Set("state", "forged"); q.Del("code"); q.Set("error", "access_denied") },
		} {
			forged := *to
			q := forged.Query()
			change(q)
			forged.RawQuery = q.Encode()
			resp, err := browser.Get(forged.String())
			if err != nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("callback %s: %v, %v; want 400", forged.RawQuery, resp, err)
			}
			resp.Body.Close()
		}
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if code, err := cb.Wait(short); !errors.Is(err, creds.ErrStateMismatch) || !errors.Is(err, context.DeadlineExceeded) || code != "" {
			t.Fatalf("Wait() after forged callbacks only = %q, %v; want a timeout matching ErrStateMismatch", code, err)
		}
		resp, err := browser.Get(to.String())
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("the right callback after forged ones: %v, %v", resp, err)
		}
		resp.Body.Close()
		if code, err := cb.Wait(ctx); err != nil || code != to.Query().Get("code") {
			t.Fatalf("Wait() = %q, %v; want the right callback's code", code, err)
		}
	})
	t.Run("loopback only", func(t *testing.T) {
		if _, err := creds.ListenCallback("0.0.0.0:0"); err == nil {
			t.Fatal("listening on every interface was allowed")
		}
	})
}
