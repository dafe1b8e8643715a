package ghlsim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// authorize runs the chooselocation step and returns the code and the
// redirect URL.
func (e *env) authorize(a App, scope, locationID, state string) (string, *url.URL) {
	e.t.Helper()
	q := url.Values{
		"response_type": {"code"}, "client_id": {a.ClientID},
		"redirect_uri": {"http://127.0.0.1:9999/callback?keep=1"}, "scope": {scope},
	}
	if locationID != "" {
		q.Set("location_id", locationID)
	}
	if state != "" {
		q.Set("state", state)
	}
	r := e.request("GET", "/oauth/chooselocation?"+q.Encode(), nil).want(e.t, http.StatusFound)
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil {
		e.t.Fatalf("redirect Location: %v", err)
	}
	code := u.Query().Get("code")
	if code == "" {
		e.t.Fatalf("redirect %s has no code", u)
	}
	return code, u
}

// exchange trades a code for tokens.
func (e *env) exchange(a App, code, userType string) *resp {
	e.t.Helper()
	return e.request("POST", "/oauth/token", url.Values{
		"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"authorization_code"},
		"code": {code}, "user_type": {userType}, "redirect_uri": {"http://127.0.0.1:9999/callback?keep=1"},
	})
}

// refresh trades a refresh token.
func (e *env) refresh(a App, refreshToken string) *resp {
	e.t.Helper()
	return e.request("POST", "/oauth/token", url.Values{
		"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"refresh_token"},
		"refresh_token": {refreshToken}, "user_type": {"Location"},
	})
}

// oauthToken runs the whole code flow for a location and returns the token.
func (e *env) oauthToken(scope, locationID, userType string) ghl.Token {
	e.t.Helper()
	a := e.sim.Apps()[0]
	code, _ := e.authorize(a, scope, locationID, "")
	var tok ghl.Token
	e.exchange(a, code, userType).want(e.t, http.StatusOK).decode(e.t, &tok)
	return tok
}

func TestOAuthCodeFlow(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	loc := e.loc(1)

	code, redirect := e.authorize(a, "socialplanner/tag.readonly contacts.write", loc.ID, "xyz-state")
	if got := redirect.Query().Get("state"); got != "xyz-state" {
		t.Errorf("state = %q, want xyz-state", got)
	}
	if got := redirect.Query().Get("keep"); got != "1" {
		t.Errorf("redirect lost the redirect_uri's own query: %s", redirect)
	}
	if redirect.Host != "127.0.0.1:9999" || redirect.Path != "/callback" {
		t.Errorf("redirect = %s, want the redirect_uri", redirect)
	}

	r := e.exchange(a, code, "Location").want(t, http.StatusOK)
	var tok ghl.Token
	r.decode(t, &tok)
	want := ghl.Token{
		TokenType: "Bearer", ExpiresIn: 86399, Scope: "socialplanner/tag.readonly contacts.write",
		UserType: "Location", LocationID: loc.ID, CompanyID: a.CompanyID,
	}
	got := tok
	got.AccessToken, got.RefreshToken, got.UserID = "", "", ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.UserID == "" || strings.Count(tok.AccessToken, ".") != 2 {
		t.Errorf("token lacks JWT-shaped access token, refresh token or userId: %+v", tok)
	}

	// The token works where its scope and location allow, only there.
	e.api("GET", "/social-media-posting/"+loc.ID+"/tags", tok.AccessToken, nil).want(t, http.StatusOK)
	e.api("GET", "/social-media-posting/"+loc.ID+"/accounts", tok.AccessToken, nil).
		wantError(t, http.StatusUnauthorized, msgScopeDenied)
	e.api("GET", "/social-media-posting/"+e.loc(0).ID+"/tags", tok.AccessToken, nil).
		wantError(t, http.StatusForbidden, msgNoLocation)

	// A code is bound to its redirect_uri.
	other, _ := e.authorize(a, "", loc.ID, "")
	r = e.request("POST", "/oauth/token", url.Values{
		"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"authorization_code"},
		"code": {other}, "redirect_uri": {"http://127.0.0.1:9999/elsewhere"},
	}).want(t, http.StatusBadRequest)
	if m := r.object(t); m["error"] != "invalid_grant" {
		t.Errorf("redirect_uri mismatch: body %s, want invalid_grant", r.body)
	}

	// A code is single use.
	r = e.exchange(a, code, "Location")
	r.want(t, http.StatusBadRequest)
	if m := r.object(t); m["error"] != "invalid_grant" {
		t.Errorf("reused code: error = %v, want invalid_grant", m["error"])
	}
}

func TestOAuthRefreshRotation(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	loc := e.loc(0)
	first := e.oauthToken("", loc.ID, "Location")

	var second ghl.Token
	e.refresh(a, first.RefreshToken).want(t, http.StatusOK).decode(t, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatalf("refresh did not rotate the tokens")
	}
	if second.LocationID != loc.ID || second.UserType != "Location" {
		t.Errorf("refreshed token is for %q/%q, want %s/Location", second.LocationID, second.UserType, loc.ID)
	}
	e.api("GET", "/social-media-posting/"+loc.ID+"/tags", second.AccessToken, nil).want(t, http.StatusOK)

	tests := []struct {
		name  string
		token string
	}{
		{"reused", first.RefreshToken},
		{"unknown", "not-a-refresh-token"},
		{"access token", second.AccessToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.refresh(a, tt.token).want(t, http.StatusBadRequest)
			m := r.object(t)
			if m["error"] != "invalid_grant" || m["statusCode"] != float64(400) ||
				m["message"] != "Invalid grant: refresh token is invalid" {
				t.Errorf("body = %s, want invalid_grant", r.body)
			}
		})
	}
	// The rotated refresh token still works once.
	e.refresh(a, second.RefreshToken).want(t, http.StatusOK)
	e.refresh(a, second.RefreshToken).want(t, http.StatusBadRequest)
}

func TestOAuthTokenErrors(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string // "error" field for OAuth errors; message for 422
	}{
		{"wrong secret", url.Values{"client_id": {a.ClientID}, "client_secret": {"nope"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}},
			http.StatusUnauthorized, "invalid_client"},
		{"unknown client", url.Values{"client_id": {"nope"}, "client_secret": {a.ClientSecret}, "grant_type": {"authorization_code"}, "code": {"x"}},
			http.StatusUnauthorized, "invalid_client"},
		{"unknown code", url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"authorization_code"}, "code": {"abc"}},
			http.StatusBadRequest, "invalid_grant"},
		{"client credentials", url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"client_credentials"}},
			http.StatusBadRequest, "unsupported_grant_type"},
		{"missing grant type", url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}},
			http.StatusUnprocessableEntity, "grant_type should not be empty"},
		{"bad user type", url.Values{"client_id": {a.ClientID}, "client_secret": {a.ClientSecret}, "grant_type": {"refresh_token"}, "user_type": {"Agency"}},
			http.StatusUnprocessableEntity, "user_type must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.request("POST", "/oauth/token", tt.form)
			if tt.wantStatus == http.StatusUnprocessableEntity {
				r.wantError(t, tt.wantStatus, tt.wantError)
				return
			}
			r.want(t, tt.wantStatus)
			if m := r.object(t); m["error"] != tt.wantError || m["statusCode"] != float64(tt.wantStatus) {
				t.Errorf("body = %s, want error %q", r.body, tt.wantError)
			}
		})
	}
}

func TestOAuthChooseLocationErrors(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	base := url.Values{"response_type": {"code"}, "client_id": {a.ClientID}, "redirect_uri": {"http://127.0.0.1:9999/callback?keep=1"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		q.Set(k, v)
		return q
	}
	tests := []struct {
		name string
		q    url.Values
		msg  string
	}{
		{"response type", with("response_type", "token"), "response_type"},
		{"client", with("client_id", "nope"), "client_id"},
		{"redirect", with("redirect_uri", "/relative"), "redirect_uri"},
		{"location", with("location_id", "NoSuchLocation12345x"), "location_id"},
		{"scope", with("scope", "contacts.write bad<scope>"), "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.request("GET", "/oauth/chooselocation?"+tt.q.Encode(), nil).wantError(t, http.StatusBadRequest, tt.msg)
		})
	}
	t.Run("defaults to the first location", func(t *testing.T) {
		r := e.request("GET", "/v2/oauth/chooselocation?"+base.Encode(), nil).want(t, http.StatusFound)
		u, _ := url.Parse(r.header.Get("Location"))
		var tok ghl.Token
		e.exchange(a, u.Query().Get("code"), "Location").want(t, http.StatusOK).decode(t, &tok)
		if tok.LocationID != e.loc(0).ID {
			t.Errorf("locationId = %q, want the first location %q", tok.LocationID, e.loc(0).ID)
		}
		if tok.Scope != strings.Join(scopeNames(scopeAll), " ") {
			t.Errorf("scope = %q, want every scope when none is asked", tok.Scope)
		}
	})
}

func TestOAuthAccessTokenExpires(t *testing.T) {
	e := newEnv(t, "demo")
	e.setConfig(`{"accessTokenTTL":"3s"}`)
	loc := e.loc(0)
	tok := e.oauthToken("", loc.ID, "Location")
	if tok.ExpiresIn != 3 {
		t.Errorf("expires_in = %d, want 3", tok.ExpiresIn)
	}
	path := "/social-media-posting/" + loc.ID + "/tags"
	e.clock.Advance(2 * time.Second)
	e.api("GET", path, tok.AccessToken, nil).want(t, http.StatusOK)
	e.clock.Advance(time.Second)
	r := e.api("GET", path, tok.AccessToken, nil).want(t, http.StatusUnauthorized)
	if diff := cmp.Diff(map[string]any{"statusCode": float64(401), "message": "Invalid JWT"}, r.object(t)); diff != "" {
		t.Errorf("expired token body (-want +got):\n%s", diff)
	}
	// The refresh token outlives the access token.
	var next ghl.Token
	e.refresh(e.sim.Apps()[0], tok.RefreshToken).want(t, http.StatusOK).decode(t, &next)
	e.api("GET", path, next.AccessToken, nil).want(t, http.StatusOK)
	// PITs never expire.
	e.clock.Advance(400 * 24 * time.Hour)
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK)
}

func TestOAuthCompanyToken(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	company := e.oauthToken("", "", "Company")
	if company.UserType != "Company" || company.LocationID != "" || company.CompanyID != a.CompanyID {
		t.Fatalf("company token = %+v", company)
	}
	if len(company.ApprovedLocations) != len(e.sim.Locations()) {
		t.Errorf("approvedLocations = %v, want all %d locations", company.ApprovedLocations, len(e.sim.Locations()))
	}
	appID := strings.SplitN(a.ClientID, "-", 2)[0]
	versioned := func(method, path string, body any) *resp {
		return e.request(method, path, body, "Authorization", "Bearer "+company.AccessToken, "Version", "2021-07-28")
	}

	var installed ghl.InstalledLocationsResponse
	versioned("GET", "/oauth/installedLocations?companyId="+a.CompanyID+"&appId="+appID+"&limit=2", nil).
		want(t, http.StatusOK).decode(t, &installed)
	if installed.Count != len(e.sim.Locations()) || len(installed.Locations) != 2 {
		t.Errorf("installedLocations count=%d page=%d, want count %d page 2", installed.Count, len(installed.Locations), len(e.sim.Locations()))
	}
	for _, l := range installed.Locations {
		if !l.IsInstalled || l.ID == "" || l.Name == "" || l.Address == "" {
			t.Errorf("installed location %+v lacks fields", l)
		}
	}
	versioned("GET", "/oauth/installedLocations?companyId="+a.CompanyID, nil).
		wantError(t, http.StatusUnprocessableEntity, "appId")

	loc := e.loc(2)
	var lt ghl.Token
	versioned("POST", "/oauth/locationToken", url.Values{"companyId": {a.CompanyID}, "locationId": {loc.ID}}).
		want(t, http.StatusOK).decode(t, &lt)
	if lt.LocationID != loc.ID || lt.AccessToken == "" || lt.RefreshToken == "" || lt.TokenType != "Bearer" ||
		lt.AppID != appID || lt.UserType != "" || lt.CompanyID != "" {
		t.Fatalf("location token = %+v, want GetLocationAccessTokenSuccessfulResponseDto's fields", lt)
	}
	e.api("GET", "/social-media-posting/"+loc.ID+"/tags", lt.AccessToken, nil).want(t, http.StatusOK)
	// The minted location token refreshes like any other.
	e.refresh(a, lt.RefreshToken).want(t, http.StatusOK)

	// A Company token is not a location token, and a location token is
	// not a Company token.
	e.api("GET", "/social-media-posting/"+loc.ID+"/tags", company.AccessToken, nil).
		wantError(t, http.StatusForbidden, msgNoLocation)
	e.request("POST", "/oauth/locationToken", url.Values{"companyId": {a.CompanyID}, "locationId": {loc.ID}},
		"Authorization", "Bearer "+loc.Token, "Version", "2021-07-28").wantError(t, http.StatusUnauthorized, msgScopeDenied)
	versioned("POST", "/oauth/locationToken", url.Values{"companyId": {a.CompanyID}, "locationId": {"NoSuchLocation123456"}}).
		wantError(t, http.StatusBadRequest, "Location not found")
}
