package ghlsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Lifetimes HighLevel documents or implies.
const (
	codeTTL         = 10 * time.Minute
	refreshTokenTTL = 365 * 24 * time.Hour
	pruneEvery      = 1024 // access tokens issued between sweeps of expired ones
)

// oauthState holds authorization codes and refresh tokens, both single use.
type oauthState struct {
	mu      sync.Mutex
	codes   map[string]*authCode
	refresh map[string]*refreshGrant
	issued  int
}

func (o *oauthState) init() {
	o.codes = map[string]*authCode{}
	o.refresh = map[string]*refreshGrant{}
}

// authCode is an authorization code waiting to be exchanged.
type authCode struct {
	clientID    string
	redirectURI string
	locationID  string
	companyID   string
	userID      string
	scopes      scope
	scopeText   string
	expiresAt   time.Time
}

// refreshGrant is what a refresh token can be exchanged for.
type refreshGrant struct {
	grant
	refreshExpiresAt time.Time
}

// chooseLocation answers GET /oauth/chooselocation (also under /v2/): the
// page where a user installs an app. By default the simulator approves at
// once: it picks location_id, or the company's first location, and
// redirects (302) to redirect_uri with a single-use code and the state.
// With the consent page on (PUT /_sandbox/config {"consentPage": true})
// it shows a form instead, whose Approve button POSTs here (consent.go).
func (s *Simulator) chooseLocation(w http.ResponseWriter, r *http.Request) {
	ar, ok := s.authorizeRequest(w, r.URL.Query())
	if !ok {
		return
	}
	if s.config.Load().consentPage {
		s.consentPage(w, ar)
		return
	}
	s.approve(w, r, ar)
}

// authorization is a checked request of the authorization page.
type authorization struct {
	app       *app
	redirect  *url.URL
	scopes    scope
	scopeText string
	loc       *location
	// q are the request's parameters, for the consent form.
	q url.Values
}

// authorizeRequest checks the parameters of the authorization page,
// answering 400 itself when one is wrong.
func (s *Simulator) authorizeRequest(w http.ResponseWriter, q url.Values) (authorization, bool) {
	if q.Get("response_type") != "code" {
		writeBadRequest(w, "response_type must be code")
		return authorization{}, false
	}
	a := s.appByClientID(q.Get("client_id"))
	if a == nil {
		writeBadRequest(w, "Invalid client_id: no app has client id "+quote(q.Get("client_id")))
		return authorization{}, false
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (redirect.Scheme != "http" && redirect.Scheme != "https") || redirect.Host == "" {
		writeBadRequest(w, "redirect_uri must be an absolute http or https URL")
		return authorization{}, false
	}
	scopes, scopeText, ok := parseScopes(q.Get("scope"))
	if !ok {
		writeBadRequest(w, "scope must be a space-separated list of HighLevel scopes")
		return authorization{}, false
	}
	locs := s.companyLocations(a.companyID)
	var loc *location
	want := q.Get("location_id")
	if want == "" {
		want = q.Get("locationId")
	}
	for _, l := range locs {
		if want == "" || l.id == want {
			loc = l
			break
		}
	}
	if loc == nil {
		if want != "" {
			writeBadRequest(w, "location_id "+quote(want)+" is not a sub-account of the app's company")
		} else {
			writeBadRequest(w, "The company has no sub-account to install the app on")
		}
		return authorization{}, false
	}
	return authorization{app: a, redirect: redirect, scopes: scopes, scopeText: scopeText, loc: loc, q: q}, true
}

// approve issues a code for ar and redirects to its redirect_uri with it
// and the state. The install reinstates a location uninstalled before.
func (s *Simulator) approve(w http.ResponseWriter, r *http.Request, ar authorization) {
	loc := ar.loc
	if rec, ok := w.(*recorder); ok {
		rec.location = loc.id
	}
	loc.uninstalled.Store(false)
	code := randomHex(20)
	s.oauth.mu.Lock()
	s.oauth.codes[code] = &authCode{
		clientID: ar.app.clientID, redirectURI: ar.redirect.String(), locationID: loc.id, companyID: ar.app.companyID,
		userID: s.company.userID, scopes: ar.scopes, scopeText: ar.scopeText, expiresAt: s.now().Add(codeTTL),
	}
	s.oauth.mu.Unlock()

	redirect := *ar.redirect
	v := redirect.Query()
	v.Set("code", code)
	if state := ar.q.Get("state"); state != "" {
		v.Set("state", state)
	}
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// parseScopes parses a space-separated scope list. An empty list means
// every scope the simulator knows.
func parseScopes(text string) (scope, string, bool) {
	names := strings.Fields(text)
	if len(names) == 0 {
		return scopeAll, strings.Join(scopeNames(scopeAll), " "), true
	}
	var s scope
	for _, n := range names {
		if !validScopeName(n) {
			return 0, "", false
		}
		s |= scopeByName(n)
	}
	return s, strings.Join(names, " "), true
}

// tokenParams reads the parameters of POST /oauth/token: a form, as
// HighLevel documents, or a JSON object of strings.
func tokenParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			writeBadRequest(w, "Unexpected token in JSON body")
			return nil, false
		}
		v := url.Values{}
		for k, x := range m {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			case float64:
				v.Set(k, strconv.FormatFloat(x, 'f', -1, 64))
			case bool:
				v.Set(k, strconv.FormatBool(x))
			}
		}
		return v, true
	}
	if err := r.ParseForm(); err != nil {
		writeBadRequest(w, "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	return r.PostForm, true
}

// token answers POST /oauth/token: the authorization_code and refresh_token
// grants. Codes and refresh tokens are single use; a refresh returns a new
// refresh token and voids the old one.
func (s *Simulator) token(w http.ResponseWriter, r *http.Request) {
	p, ok := tokenParams(w, r)
	if !ok {
		return
	}
	var problems []string
	for _, f := range []string{"client_id", "client_secret", "grant_type"} {
		if p.Get(f) == "" {
			problems = append(problems, f+" should not be empty")
		}
	}
	if len(problems) > 0 {
		writeUnprocessable(w, problems...)
		return
	}
	grantType := p.Get("grant_type")
	switch grantType {
	case "authorization_code", "refresh_token", "client_credentials":
	default:
		writeUnprocessable(w, "grant_type must be one of the following values: authorization_code, refresh_token, client_credentials")
		return
	}
	userType := p.Get("user_type")
	if userType != "" && userType != "Location" && userType != "Company" {
		writeUnprocessable(w, "user_type must be one of the following values: Company, Location")
		return
	}
	a := s.appByClientID(p.Get("client_id"))
	if a == nil || a.clientSecret != p.Get("client_secret") {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"Invalid client: client credentials are invalid", "unknown client_id or wrong client_secret")
		return
	}

	var g grant
	switch grantType {
	case "authorization_code":
		code := p.Get("code")
		if code == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "code is required", "the authorization_code grant needs code")
			return
		}
		s.oauth.mu.Lock()
		ac := s.oauth.codes[code]
		delete(s.oauth.codes, code) // single use, whatever happens next
		s.oauth.mu.Unlock()
		switch {
		case ac == nil || ac.clientID != a.clientID || !s.now().Before(ac.expiresAt):
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: authorization code is invalid",
				"the code is unknown, expired, already used or issued to another client")
			return
		case p.Get("redirect_uri") != "" && p.Get("redirect_uri") != ac.redirectURI:
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: redirect_uri does not match",
				"redirect_uri differs from the one the code was issued for")
			return
		}
		g = grant{kind: grantLocation, locationID: ac.locationID, companyID: ac.companyID, clientID: a.clientID,
			userID: ac.userID, scopes: ac.scopes, scopeText: ac.scopeText}
		if userType == "Company" {
			g.kind, g.locationID = grantCompany, ""
		}
	case "refresh_token":
		rt := p.Get("refresh_token")
		if rt == "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required", "the refresh_token grant needs refresh_token")
			return
		}
		s.oauth.mu.Lock()
		rg := s.oauth.refresh[rt]
		valid := rg != nil && rg.clientID == a.clientID && s.now().Before(rg.refreshExpiresAt)
		if valid {
			delete(s.oauth.refresh, rt)
		}
		s.oauth.mu.Unlock()
		if !valid {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Invalid grant: refresh token is invalid",
				"the refresh token is unknown, expired, already used or issued to another client")
			return
		}
		g = rg.grant
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type: client_credentials",
			"the simulator supports authorization_code and refresh_token")
		return
	}
	if g.kind == grantLocation && s.location(g.locationID) == nil {
		writeBadRequest(w, "Location is not active")
		return
	}
	if rec, ok := w.(*recorder); ok {
		rec.location = g.locationID
	}
	writeJSON(w, http.StatusOK, s.issue(g, a, false))
}

// issue mints an access token and a refresh token for g, and returns them
// with the fields of POST /oauth/token's answer, or of POST
// /oauth/locationToken's when forLocationToken is set (the two schemas
// differ).
func (s *Simulator) issue(g grant, a *app, forLocationToken bool) ghl.Token {
	now := s.now()
	ttl := s.config.Load().accessTokenTTL
	g.expiresAt = now.Add(ttl)
	access := jwtLike(g, now, "access")
	refresh := jwtLike(g, now, "refresh")
	s.tokens.Store(access, &g)

	s.oauth.mu.Lock()
	s.oauth.refresh[refresh] = &refreshGrant{grant: g, refreshExpiresAt: now.Add(refreshTokenTTL)}
	s.oauth.issued++
	sweep := s.oauth.issued%pruneEvery == 0
	s.oauth.mu.Unlock()
	if sweep {
		s.pruneTokens(now)
	}

	t := ghl.Token{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(math.Ceil(ttl.Seconds())),
		RefreshToken: refresh, Scope: g.scopeText, UserID: g.userID,
	}
	if forLocationToken {
		// GetLocationAccessTokenSuccessfulResponseDto: no userType or
		// companyId, but the app and version.
		t.LocationID, t.AppID, t.VersionID = g.locationID, a.appID, a.versionID
		return t
	}
	t.CompanyID = g.companyID
	if g.kind == grantCompany {
		t.UserType = "Company"
		for _, l := range s.companyLocations(g.companyID) {
			t.ApprovedLocations = append(t.ApprovedLocations, l.id)
		}
		t.IsBulkInstallation, t.ApproveAllLocations = true, true
	} else {
		t.UserType, t.LocationID = "Location", g.locationID
	}
	return t
}

// pruneTokens forgets expired access tokens and refresh tokens.
func (s *Simulator) pruneTokens(now time.Time) {
	s.tokens.Range(func(k, v any) bool {
		if g := v.(*grant); !g.expiresAt.IsZero() && !now.Before(g.expiresAt) {
			s.tokens.Delete(k)
		}
		return true
	})
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	for k, rg := range s.oauth.refresh {
		if !now.Before(rg.refreshExpiresAt) {
			delete(s.oauth.refresh, k)
		}
	}
	for k, ac := range s.oauth.codes {
		if !now.Before(ac.expiresAt) {
			delete(s.oauth.codes, k)
		}
	}
}

// locationToken answers POST /oauth/locationToken: a Company token trades
// companyId and locationId (form fields) for a Location token and refresh
// token of the same app and scopes.
func (s *Simulator) locationToken(w http.ResponseWriter, r *http.Request, c *call) {
	p, ok := tokenParams(w, r)
	if !ok {
		return
	}
	var problems []string
	for _, f := range []string{"companyId", "locationId"} {
		if p.Get(f) == "" {
			problems = append(problems, f+" should not be empty")
		}
	}
	if len(problems) > 0 {
		writeUnprocessable(w, problems...)
		return
	}
	if p.Get("companyId") != c.grant.companyID {
		writeBadRequest(w, "companyId does not match the token's company")
		return
	}
	l := s.location(p.Get("locationId"))
	if l == nil || l.companyID != c.grant.companyID || l.uninstalled.Load() {
		writeBadRequest(w, "Location not found, or the app is not installed on it")
		return
	}
	a := s.appByClientID(c.grant.clientID)
	if a == nil {
		writeInvalidJWT(w)
		return
	}
	if rec, ok := w.(*recorder); ok {
		rec.location = l.id
	}
	g := *c.grant
	g.kind, g.locationID = grantLocation, l.id
	writeJSON(w, http.StatusOK, s.issue(g, a, true))
}

// installedLocations answers GET /oauth/installedLocations for a Company
// token: the company's locations where the app is installed (all of them),
// filtered by query and locationId, paged by skip and limit. count is the
// number of matches.
func (s *Simulator) installedLocations(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var problems []string
	for _, f := range []string{"companyId", "appId"} {
		if q.Get(f) == "" {
			problems = append(problems, f+" should not be empty")
		}
	}
	if len(problems) > 0 {
		writeUnprocessable(w, problems...)
		return
	}
	if q.Get("companyId") != c.grant.companyID {
		writeBadRequest(w, "companyId does not match the token's company")
		return
	}
	a := s.appByClientID(c.grant.clientID)
	if a == nil || q.Get("appId") != a.appID {
		writeBadRequest(w, "appId does not match the token's app")
		return
	}
	skip, ok := queryInt(w, q.Get("skip"), "skip", 0, 0)
	if !ok {
		return
	}
	limit, ok := queryInt(w, q.Get("limit"), "limit", 20, 1)
	if !ok {
		return
	}
	text := strings.ToLower(q.Get("query"))
	var matched []ghl.InstalledLocation
	if q.Get("isInstalled") != "false" {
		for _, l := range s.companyLocations(c.grant.companyID) {
			if l.uninstalled.Load() || (text != "" && !strings.Contains(strings.ToLower(l.name), text)) ||
				(q.Get("locationId") != "" && q.Get("locationId") != l.id) {
				continue
			}
			at := l.createdAt.UTC()
			matched = append(matched, ghl.InstalledLocation{
				ID: l.id, Name: l.name, Address: l.address, IsInstalled: true, VersionID: a.versionID, InstalledAt: &at,
			})
		}
	}
	page := pageOf(matched, skip, limit)
	writeJSON(w, http.StatusOK, ghl.InstalledLocationsResponse{Locations: nonNil(page), Count: len(matched)})
}

// jwtLike returns a token shaped like HighLevel's JWTs (header, claims,
// signature), unique by a random id. The simulator looks tokens up; it
// never verifies the signature.
func jwtLike(g grant, now time.Time, use string) string {
	authClass := "Location"
	authClassID := g.locationID
	if g.kind == grantCompany {
		authClass, authClassID = "Company", g.companyID
	}
	claims, _ := json.Marshal(map[string]any{
		"authClass": authClass, "authClassId": authClassID, "source": "INTEGRATION",
		"sourceId": g.clientID, "channel": "OAUTH", "primaryAuthClassId": authClassID,
		"oauthMeta": map[string]any{"scopes": strings.Fields(g.scopeText), "client": strings.SplitN(g.clientID, "-", 2)[0]},
		"iat":       now.Unix(), "exp": g.expiresAt.Unix(), "use": use, "jti": randomHex(16),
	})
	enc := base64.RawURLEncoding
	sig := make([]byte, 32)
	_, _ = rand.Read(sig)
	return enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig)
}

// randomHex returns n random bytes from crypto/rand as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
