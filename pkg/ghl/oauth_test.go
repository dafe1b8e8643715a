package ghl

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fullToken has every field of Token set, so that an exchange that drops
// one of HighLevel's fields shows.
var fullToken = Token{
	AccessToken: "access-1", TokenType: "Bearer", ExpiresIn: 86399, RefreshToken: "refresh-1",
	Scope: "socialplanner/tag.readonly locations/tags.write", UserType: UserTypeLocation,
	LocationID: "loc1", CompanyID: "co1", ApprovedLocations: []string{"loc1", "loc2"}, UserID: "u1",
	PlanID: "plan1", IsBulkInstallation: true, AppID: "app1", VersionID: "v1",
	InstallToFutureLocations: true, ApproveAllLocations: true,
}

// The code exchange goes through oauth2.Config with the credentials in the
// form, keeps HighLevel's own fields of the answer, is retried on a 429
// only, and its errors are *Error with secrets redacted.
func TestExchangeCode(t *testing.T) {
	v := reflect.ValueOf(fullToken)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullToken leaves %s unset", v.Type().Field(i).Name)
		}
	}
	app := AppCredentials{ClientID: "cid", ClientSecret: "csecret-42"}
	const code, redirect = "code-123456", "http://127.0.0.1:9/callback"
	ctx := context.Background()

	t.Run("answer", func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){
			reply(http.StatusTooManyRequests, `{"message":"Too many requests"}`),
			reply(http.StatusOK, fullToken),
		}}
		c := newFakeClient(t, srv, Options{UserAgent: "test-agent", InitialBackoff: time.Millisecond})
		got, err := c.ExchangeCode(ctx, app, code, redirect, UserTypeLocation)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(fullToken, got); diff != "" {
			t.Errorf("token (-want +got):\n%s", diff)
		}
		reqs := srv.seen()
		if len(reqs) != 2 {
			t.Fatalf("%d requests, want 2 (a 429 is retried)", len(reqs))
		}
		for _, r := range reqs {
			if r.Method != http.MethodPost || r.Path != "/oauth/token" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
			for h, want := range map[string]string{"Authorization": "", "Version": "", "Accept": "application/json",
				"User-Agent": "test-agent", "Content-Type": "application/x-www-form-urlencoded"} {
				if v := r.Header.Get(h); v != want {
					t.Errorf("header %s = %q, want %q", h, v, want)
				}
			}
			form, _ := url.ParseQuery(r.Body)
			want := url.Values{"client_id": {"cid"}, "client_secret": {"csecret-42"}, "grant_type": {"authorization_code"},
				"code": {code}, "redirect_uri": {redirect}, "user_type": {UserTypeLocation}}
			if diff := cmp.Diff(want, form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("5xx is not retried", func(t *testing.T) {
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(http.StatusBadGateway, "bad gateway")}}
		c := newFakeClient(t, srv, Options{InitialBackoff: time.Millisecond})
		_, err := c.ExchangeCode(ctx, app, code, redirect, UserTypeLocation)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindRetryable || e.StatusCode != http.StatusBadGateway {
			t.Fatalf("err = %v, want a retryable 502 *Error", err)
		}
		if n := len(srv.seen()); n != 1 {
			t.Errorf("%d requests, want 1: the code may be spent", n)
		}
	})

	t.Run("invalid_grant", func(t *testing.T) {
		body := `{"error":"invalid_grant","error_description":"code ` + code + ` of client secret csecret-42 is invalid"}`
		srv := &fakeServer{script: []func(http.ResponseWriter, *http.Request){reply(http.StatusBadRequest, body, "Content-Type", "application/json")}}
		c := newFakeClient(t, srv, Options{})
		_, err := c.ExchangeCode(ctx, app, code, redirect, UserTypeLocation)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindAuth || e.Code != "invalid_grant" || e.StatusCode != http.StatusBadRequest {
			t.Fatalf("err = %v, want 400 invalid_grant, KindAuth", err)
		}
		for _, secret := range []string{code, app.ClientSecret} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows %q", err, secret)
			}
		}
	})
}

// The authorization URL of OAuthConfig carries what HighLevel's
// chooselocation page reads.
func TestOAuthConfigAuthURL(t *testing.T) {
	c, err := New(Options{BaseURL: "https://ghl.test"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.OAuthConfig(AppCredentials{ClientID: "cid", ClientSecret: "s"}, "https://marketplace.test/oauth/chooselocation",
		"http://127.0.0.1:9/callback", []string{"a.readonly", "b.write"})
	if cfg.Endpoint.TokenURL != "https://ghl.test/oauth/token" {
		t.Errorf("token URL %q", cfg.Endpoint.TokenURL)
	}
	u, err := url.Parse(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"response_type": {"code"}, "client_id": {"cid"}, "redirect_uri": {"http://127.0.0.1:9/callback"},
		"scope": {"a.readonly b.write"}, "state": {"st"}}
	if diff := cmp.Diff(want, u.Query()); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	if u.Host != "marketplace.test" || u.Path != "/oauth/chooselocation" {
		t.Errorf("authorization URL %s", u)
	}
}
