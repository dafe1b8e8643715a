package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
)

// oauthSandbox serves a demo simulator and points the OAuth variables and
// a fresh token key at it.
func oauthSandbox(t *testing.T) (*ghlsim.Simulator, string, ghl.AppCredentials) {
	t.Helper()
	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	a := sim.Apps()[0]
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	t.Setenv("SOCIALSYNC_GHL_CLIENT_ID", a.ClientID)
	t.Setenv("SOCIALSYNC_GHL_CLIENT_SECRET", a.ClientSecret)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", srv.URL)
	t.Setenv("SOCIALSYNC_GHL_AUTH_URL", srv.URL+"/oauth/chooselocation")
	return sim, srv.URL, ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
}

var printedAuthURL = regexp.MustCompile(`(?m)^  (http\S+)$`)

// startConnect runs `socialsync connect args...` in the background and
// returns the authorization URL it printed and a channel with its exit
// code.
func startConnect(t *testing.T, args ...string) (string, *syncBuffer, *syncBuffer, chan int) {
	t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- Main(context.Background(), append([]string{"connect", "--browser=false", "--timeout", "20s"}, args...), out, errOut)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := printedAuthURL.FindStringSubmatch(out.String()); m != nil {
			return m[1], out, errOut, done
		}
		select {
		case code := <-done:
			t.Fatalf("connect exited %d before printing a URL: %s%s", code, out, errOut)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("connect printed no authorization URL: %q", out.String())
	return "", nil, nil, nil
}

// playBrowser follows the authorization URL to the simulator, which
// approves at once, and delivers its redirect to the callback, with its
// state replaced when forge is set. It returns the callback's status.
func playBrowser(t *testing.T, authURL, forge string) int {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorization page: %s, redirect %q", resp.Status, resp.Header.Get("Location"))
	}
	if forge != "" {
		q := to.Query()
		q.Set("state", forge)
		to.RawQuery = q.Encode()
	}
	resp, err = browser.Get(to.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func exitCode(t *testing.T, done chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("connect did not finish")
		return -1
	}
}

func TestConnectLocationThenListAndDoctor(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, _, _ := oauthSandbox(t)
	loc := sim.Locations()[1].ID
	authURL, out, errOut, done := startConnect(t, "--nats", env.URL(), "--location", loc, "--timezone", "Europe/Berlin")
	if u, _ := url.Parse(authURL); u.Query().Get("state") == "" || !strings.Contains(u.Query().Get("scope"), "socialplanner/statistics.readonly") {
		t.Errorf("authorization URL %s lacks a state or the scopes", authURL)
	}
	if status := playBrowser(t, authURL, ""); status != http.StatusOK {
		t.Errorf("callback answered %d", status)
	}
	if code := exitCode(t, done); code != 0 || !strings.Contains(out.String(), "location "+loc+" connected") {
		t.Fatalf("connect: exit %d: %s%s", code, out, errOut)
	}

	list, errList, code := runCLI(t, "locations", "list", "--nats", env.URL())
	if code != 0 {
		t.Fatalf("list: exit %d: %s", code, errList)
	}
	for _, want := range []string{loc, "oauth", "active", "valid until", "Europe/Berlin (operator)"} {
		if !strings.Contains(list, want) {
			t.Errorf("list lacks %q:\n%s", want, list)
		}
	}

	doc, errDoc, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", loc)
	if code != 0 {
		t.Fatalf("doctor: exit %d: %s%s", code, doc, errDoc)
	}
	for _, want := range []string{"GET /social-media-posting/{locationId}/tags", "GET /social-media-posting/{locationId}/accounts",
		"POST /social-media-posting/statistics", "200 ok", "/100", "/200000", "scopes: " + strings.Join(ghl.LocationScopes(), " "),
		"optional features: location_tags on; custom_values on", "daily calls: ", "reset at 00:00:00 UTC (midnight UTC until one is learned); at today's rate"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, doc)
		}
	}
}

// A callback with a forged state is refused with 400 and connect keeps
// waiting: the right callback then connects the location.
func TestConnectWaitsPastAForgedState(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, _, _ := oauthSandbox(t)
	loc := sim.Locations()[1].ID
	authURL, out, errOut, done := startConnect(t, "--nats", env.URL(), "--location", loc)
	if status := playBrowser(t, authURL, "forged"); status != http.StatusBadRequest {
		t.Errorf("callback with a forged state answered %d, want 400", status)
	}
	select {
	case code := <-done:
		t.Fatalf("connect ended (exit %d) on a forged callback: %s%s", code, out, errOut)
	default:
	}
	if status := playBrowser(t, authURL, ""); status != http.StatusOK {
		t.Fatalf("the right callback after a forged one answered %d", status)
	}
	if code := exitCode(t, done); code != 0 || !strings.Contains(out.String(), "location "+loc+" connected") {
		t.Fatalf("connect: exit %d: %s%s", code, out, errOut)
	}
}

// Only forged callbacks until the timeout: connect fails saying so, and
// stores nothing.
func TestConnectRefusesOnlyForgedStates(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	oauthSandbox(t)
	authURL, _, errOut, done := startConnect(t, "--nats", env.URL(), "--timeout", "2s")
	if status := playBrowser(t, authURL, "forged"); status != http.StatusBadRequest {
		t.Errorf("callback with a forged state answered %d, want 400", status)
	}
	if code := exitCode(t, done); code != 1 || !strings.Contains(errOut.String(), "state does not match") {
		t.Fatalf("exit %d, stderr %q: want 1 and a message about the state", code, errOut)
	}
	if list, _, _ := runCLI(t, "locations", "list", "--nats", env.URL()); strings.Count(list, "\n") != 1 {
		t.Errorf("a location was stored:\n%s", list)
	}
}

func TestConnectAgencyConnectsEveryInstalledLocation(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, _, _ := oauthSandbox(t)
	authURL, out, errOut, done := startConnect(t, "--nats", env.URL(), "--user-type", "Company")
	if !strings.Contains(authURL, "oauth.write") {
		t.Errorf("an agency install must ask for oauth.write: %s", authURL)
	}
	playBrowser(t, authURL, "")
	if code := exitCode(t, done); code != 0 {
		t.Fatalf("connect: exit %d: %s%s", code, out, errOut)
	}
	list, _, _ := runCLI(t, "locations", "list", "--nats", env.URL())
	for _, l := range sim.Locations() {
		if !strings.Contains(out.String(), l.ID) || !strings.Contains(list, l.ID) {
			t.Errorf("location %s not connected:\n%s\n%s", l.ID, out, list)
		}
	}
}

// A refresh token obtained elsewhere is exchanged at once: the location
// gets a pair only socialsync holds. When that pair's refresh token is
// spent behind socialsync's back, doctor fails and list says the location
// needs re-auth; no token is ever printed.
func TestLocationsAddRefreshTokenAndNeedsReauth(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, base, app := oauthSandbox(t)
	loc := sim.Locations()[0].ID
	authURL := base + "/oauth/chooselocation?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {"http://127.0.0.1:1/cb"}, "location_id": {loc}}.Encode()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	gc, _ := ghl.New(ghl.Options{BaseURL: base})
	ctx := context.Background()
	elsewhere, err := gc.ExchangeCode(ctx, app, to.Query().Get("code"), "http://127.0.0.1:1/cb", ghl.UserTypeLocation)
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", loc, "--refresh-token", elsewhere.RefreshToken)
	if code != 0 || !strings.Contains(out, "OAuth") {
		t.Fatalf("add --refresh-token: exit %d: %s%s", code, out, errOut)
	}
	// The refresh token given was spent by the exchange.
	_, errOut, code = runCLI(t, "locations", "add", "--nats", env.URL(), "--location", loc, "--refresh-token", elsewhere.RefreshToken)
	if code != 1 || !strings.Contains(errOut, "invalid_grant") || strings.Contains(errOut, elsewhere.RefreshToken) {
		t.Errorf("spent refresh token: exit %d, stderr %q: want 1, invalid_grant, and no token", code, errOut)
	}

	// Spend the stored refresh token behind socialsync's back and make the
	// access token due.
	kr, err := keyring()
	if err != nil {
		t.Fatal(err)
	}
	store, err := creds.Open(ctx, env.JS, kr)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := store.Token(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gc.RefreshToken(ctx, app, tok.RefreshToken, ghl.UserTypeLocation); err != nil {
		t.Fatal(err)
	}
	tok.ExpiresAt = time.Now().Add(-time.Minute)
	if err := store.PutToken(ctx, loc, tok); err != nil {
		t.Fatal(err)
	}

	doc, _, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", loc)
	if code != 1 || !strings.Contains(doc, "FAILED") || !strings.Contains(doc, "re-authorisation") {
		t.Errorf("doctor on a spent refresh token: exit %d:\n%s", code, doc)
	}
	list, _, _ := runCLI(t, "locations", "list", "--nats", env.URL())
	if !strings.Contains(list, "needs_reauth") || !strings.Contains(list, "needs re-auth: HighLevel rejected the refresh token (400 invalid_grant)") {
		t.Errorf("list:\n%s", list)
	}
	for _, text := range []string{doc, list} {
		for _, secret := range []string{elsewhere.AccessToken, elsewhere.RefreshToken, tok.AccessToken, tok.RefreshToken} {
			if strings.Contains(text, secret) {
				t.Fatalf("output shows a token:\n%s", text)
			}
		}
	}
	if ev := lastStoredEvent(t, env.JS, loc); !strings.Contains(ev, ".needs_reauth.") {
		t.Errorf("last location event has id %q, want a needs_reauth one", ev)
	}
}

func lastStoredEvent(t *testing.T, js jetstream.JetStream, loc string) string {
	t.Helper()
	st, err := js.Stream(context.Background(), topology.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.LocationEvents.Subject(loc)
	m, err := st.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		return err.Error()
	}
	return m.Header.Get(bus.HeaderMsgID)
}

func TestDoctorWithPrivateIntegrationTokens(t *testing.T) {
	env, l, _ := pitLocation(t)
	out, errOut, code := runCLI(t, "doctor", "--nats", env.URL(), "--location", l.ID)
	if code != 0 || !strings.Contains(out, "scopes: unknown") || !strings.Contains(out, "200 ok") {
		t.Fatalf("doctor: exit %d:\n%s%s", code, out, errOut)
	}
	// A revoked token: every call fails, and doctor says so.
	if _, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", l.ID, "--pit", "pit-revoked"); code != 0 {
		t.Fatal(errOut)
	}
	out, errOut, code = runCLI(t, "doctor", "--nats", env.URL(), "--location", l.ID)
	if code != 1 || !strings.Contains(out, "401 FAILED") || !strings.Contains(errOut, "calls failed") || strings.Contains(out+errOut, "pit-revoked") {
		t.Fatalf("doctor with a revoked token: exit %d:\n%s%s", code, out, errOut)
	}
}

// An agency's refresh token given to locations add connects every
// installed location instead of being lost.
func TestLocationsAddAgencyRefreshToken(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, base, app := oauthSandbox(t)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(base + "/oauth/chooselocation?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {"http://127.0.0.1:1/cb"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to, _ := url.Parse(resp.Header.Get("Location"))
	gc, _ := ghl.New(ghl.Options{BaseURL: base})
	agency, err := gc.ExchangeCode(context.Background(), app, to.Query().Get("code"), "http://127.0.0.1:1/cb", ghl.UserTypeCompany)
	if err != nil {
		t.Fatal(err)
	}
	first := sim.Locations()[0].ID
	out, errOut, code := runCLI(t, "locations", "add", "--nats", env.URL(), "--location", first, "--refresh-token", agency.RefreshToken)
	if code != 0 || !strings.Contains(out, "agency") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	list, _, _ := runCLI(t, "locations", "list", "--nats", env.URL())
	for _, l := range sim.Locations() {
		if !strings.Contains(list, l.ID) {
			t.Errorf("location %s not connected:\n%s", l.ID, list)
		}
	}
}
