package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/gateway"
)

// publicURL is the gateway's SOCIALSYNC_PUBLIC_URL in these tests: the
// redirect URI HighLevel (the simulator) sends the browser to. The test's
// browser takes it to the gateway's test server, as a reverse proxy would.
const publicURL = "https://socialsync.example"

// oauthWorld is a gateway whose HighLevel webhooks are the simulator's,
// with the Connector (the credentials-holding worker's end) serving on
// the fleet's keyed connection.
func oauthWorld(t *testing.T) (*world, ghl.AppCredentials) {
	t.Helper()
	env := fleettest.Start(t, "demo")
	a := env.Sim.Apps()[0]
	w := startEnv(t, env, func(c *gateway.Config) {
		c.PublicURL = publicURL
		c.OAuthTimeout = 20 * time.Second
		c.HighLevelWebhookKey = env.Sim.WebhookPublicKey()
		c.Config.GHLClientID, c.GHLAuthURL = a.ClientID, env.SimURL+"/oauth/chooselocation"
	})
	app := ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
	conn := &creds.Connector{Store: env.Deps.Creds, Client: env.Deps.GHL, App: app, Log: env.Deps.Log}
	fleettest.Run(t, func(ctx context.Context) error { return conn.Serve(ctx, env.Deps.Conn) })
	fleettest.Eventually(t, 10*time.Second, "the connector subscribed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := creds.RequestConnect(ctx, w.gd.Conn, creds.ConnectRequest{Kind: "ping"})
		return !errors.Is(err, nats.ErrNoResponders)
	})
	return w, app
}

// consent plays the browser on the simulator's consent page for loc with
// state (none when empty) and returns the callback URL it is sent to,
// moved from publicURL to the gateway's server.
func (w *world) consent(t *testing.T, app ghl.AppCredentials, loc, state string) string {
	t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {publicURL + gateway.CallbackPath},
		"scope": {strings.Join(append(ghl.LocationScopes(), ghl.AgencyScopes()...), " ")}}
	if loc != "" {
		q.Set("location_id", loc)
	}
	if state != "" {
		q.Set("state", state)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(w.SimURL + "/oauth/chooselocation?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(to, publicURL+gateway.CallbackPath+"?") {
		t.Fatalf("consent: %s to %q", resp.Status, to)
	}
	return w.srv.URL + strings.TrimPrefix(to, publicURL)
}

// page GETs a callback URL and returns its status and text.
func page(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// issue issues a state as `socialsync connect --hosted` does.
func (w *world) issue(t *testing.T, req creds.AuthRequest) string {
	t.Helper()
	reqs, err := creds.OpenAuthRequests(context.Background(), w.JS)
	if err != nil {
		t.Fatal(err)
	}
	req.RedirectURI = publicURL + gateway.CallbackPath
	state, err := reqs.Issue(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

// newSubAccount creates a sub-account in the simulator, unknown to
// socialsync.
func (w *world) newSubAccount(t *testing.T, name string) string {
	t.Helper()
	var created struct{ ID string }
	w.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{"name": name, "timezone": "Europe/Berlin"}, &created)
	return created.ID
}

// The hosted callback: an issued state connects the location it asked
// for, once; a replayed or unknown state is refused and connects nothing;
// a callback without a state is a Marketplace install, connected as the
// token names it and said so.
func TestHostedOAuthCallback(t *testing.T) {
	w, app := oauthWorld(t)
	ctx := context.Background()

	loc := w.newSubAccount(t, "Hosted One")
	state := w.issue(t, creds.AuthRequest{UserType: ghl.UserTypeLocation, Location: loc, Name: "Hosted One"})
	callback := w.consent(t, app, loc, state)
	status, text := page(t, callback)
	if status != http.StatusOK || !contains(text, "socialsync is connected", loc) || strings.Contains(text, "Marketplace") {
		t.Fatalf("callback: %d %s", status, text)
	}
	l, err := w.Deps.Creds.Location(ctx, loc)
	if err != nil || l.Auth != creds.AuthOAuth || l.State != creds.StateActive || l.Name != "Hosted One" {
		t.Fatalf("connected %+v, %v", l, err)
	}
	tok, err := w.Deps.Creds.TokenSource(loc).Token()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Deps.GHL.ForLocation(loc, oauth2.StaticTokenSource(tok)).ListSocialTags(ctx, loc, ghl.SearchOpts{Limit: 1}); err != nil {
		t.Fatalf("the stored token: %v", err)
	}

	// The same callback again: the state is spent.
	if status, text := page(t, callback); status != http.StatusBadRequest || !contains(text, "already used") {
		t.Fatalf("replayed callback: %d %s", status, text)
	}
	// A state socialsync never issued, on a fresh code for another
	// location: refused, nothing connected.
	other := w.newSubAccount(t, "Forged")
	if status, text := page(t, w.consent(t, app, other, "forged-state")); status != http.StatusBadRequest || !contains(text, "state is unknown") {
		t.Fatalf("unknown state: %d %s", status, text)
	}
	if _, err := w.Deps.Creds.Location(ctx, other); !errors.Is(err, creds.ErrUnknownLocation) {
		t.Fatalf("a refused callback registered %s: %v", other, err)
	}

	// Marketplace: no state, the location the token names.
	market := w.newSubAccount(t, "From The Marketplace")
	status, text = page(t, w.consent(t, app, market, ""))
	if status != http.StatusOK || !contains(text, "Marketplace", market) {
		t.Fatalf("marketplace callback: %d %s", status, text)
	}
	if l, err := w.Deps.Creds.Location(ctx, market); err != nil || l.State != creds.StateActive {
		t.Fatalf("marketplace install: %+v, %v", l, err)
	}
	// HighLevel's denial, with a valid state: said so, nothing connected.
	denied := w.issue(t, creds.AuthRequest{UserType: ghl.UserTypeLocation})
	if status, text := page(t, w.srv.URL+gateway.CallbackPath+"?error=access_denied&state="+denied); status != http.StatusBadRequest || !contains(text, "access_denied") {
		t.Fatalf("denied: %d %s", status, text)
	}
}

// An agency connected through the hosted flow stays current: INSTALL of a
// new sub-account connects it with nobody at a browser, UNINSTALL
// disconnects it, and its later triggers are refused 410.
func TestInstallWebhooksKeepAnAgencyCurrent(t *testing.T) {
	w, app := oauthWorld(t)
	ctx := context.Background()
	state := w.issue(t, creds.AuthRequest{UserType: ghl.UserTypeCompany})
	status, text := page(t, w.consent(t, app, "", state))
	if status != http.StatusOK || !contains(text, "Agency", "connected") {
		t.Fatalf("agency callback: %d %s", status, text)
	}
	company := w.Sim.Apps()[0].CompanyID
	if ok, err := w.Deps.Creds.Agency(ctx, company); err != nil || !ok {
		t.Fatalf("agency token kept: %v, %v", ok, err)
	}

	w.Admin(t, http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": w.srv.URL + "/v1/highlevel/webhooks", "installWebhooks": true, "webhookRetry": "100ms"}, nil)
	loc := w.newSubAccount(t, "Opened Today")
	fleettest.Eventually(t, 20*time.Second, "the INSTALL connected the new sub-account", func() bool {
		l, err := w.Deps.Creds.Location(ctx, loc)
		return err == nil && l.State == creds.StateActive && l.CompanyID == company
	})
	if _, err := w.Deps.Creds.TokenSource(loc).Token(); err != nil {
		t.Fatalf("token of the installed location: %v", err)
	}

	w.Admin(t, http.MethodPost, "/_sandbox/locations/"+loc+"/uninstall", nil, nil)
	fleettest.Eventually(t, 20*time.Second, "the UNINSTALL disconnected it", func() bool {
		l, err := w.Deps.Creds.Location(ctx, loc)
		return err == nil && l.State == creds.StateUninstalled
	})
	if _, err := w.Deps.Creds.Token(ctx, loc); !errors.Is(err, creds.ErrNoToken) {
		t.Fatalf("token after UNINSTALL: %v", err)
	}
	a := w.api(t, http.MethodPost, "/v1/locations/"+loc+"/triggers/stats", "{}")
	if a.status != http.StatusGone || a.errorCode(t) != "location_uninstalled" {
		t.Fatalf("trigger for an uninstalled location: %d %s", a.status, a.body)
	}
	// GET still shows it, uninstalled.
	if a := w.api(t, http.MethodGet, "/v1/locations/"+loc, ""); a.status != http.StatusOK || !contains(string(a.body), "uninstalled") {
		t.Fatalf("GET an uninstalled location: %d %s", a.status, a.body)
	}
	// The audit log says HighLevel's webhooks connected and disconnected it.
	a = w.api(t, http.MethodGet, "/v1/audit?location="+loc, "")
	if a.status != http.StatusOK || !contains(string(a.body), `"action":"connect"`) || !contains(string(a.body), `"action":"uninstall"`) ||
		!contains(string(a.body), `"who":"webhook"`) {
		t.Errorf("audit of the install and the uninstall: %d %s", a.status, a.body)
	}
}

// Without a worker holding the credentials, the callback says so (503)
// and connects nothing; with one that does not answer in time, the page
// says it is still connecting (504), after the bounded wait.
func TestCallbackWithoutAnAnswer(t *testing.T) {
	env := fleettest.Start(t, "demo")
	w := startEnv(t, env, func(c *gateway.Config) {
		c.PublicURL = publicURL
		c.OAuthTimeout = time.Second
	})
	a := env.Sim.Apps()[0]
	app := ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}
	loc := w.newSubAccount(t, "Nobody Home")
	status, text := page(t, w.consent(t, app, loc, ""))
	if status != http.StatusServiceUnavailable || !contains(text, "No worker") {
		t.Fatalf("no worker: %d %s", status, text)
	}
	// A worker that takes the request and never answers.
	sub, err := env.Deps.Conn.QueueSubscribe(topology.SubjectOAuthConnect, topology.QueueOAuthConnect, func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := env.Deps.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	status, text = page(t, w.consent(t, app, loc, ""))
	if status != http.StatusGatewayTimeout || !contains(text, "still connecting") {
		t.Fatalf("silent worker: %d %s", status, text)
	}
	if _, err := env.Deps.Creds.Location(context.Background(), loc); !errors.Is(err, creds.ErrUnknownLocation) {
		t.Fatalf("connected without a worker's answer: %v", err)
	}
}

// The dashboard's way in: an admin key asks the API for the authorization
// URL (POST /v1/oauth/authorizations), which connects through the hosted
// callback like the CLI's; a key without the admin scope may not.
func TestAuthorizationFromTheAPI(t *testing.T) {
	w, app := oauthWorld(t)
	loc := w.newSubAccount(t, "From The Dashboard")
	a := w.api(t, http.MethodPost, "/v1/oauth/authorizations", `{"locationId":"`+loc+`","name":"Dashboard","timezone":"Europe/Paris"}`)
	if a.status != http.StatusCreated {
		t.Fatalf("authorization: %d %s", a.status, a.body)
	}
	var got struct{ AuthorizationURL, RedirectURI string }
	a.json(t, &got)
	u, err := url.Parse(got.AuthorizationURL)
	if err != nil || got.RedirectURI != publicURL+gateway.CallbackPath || u.Query().Get("redirect_uri") != got.RedirectURI ||
		u.Query().Get("client_id") != app.ClientID || u.Query().Get("scope") != strings.Join(ghl.LocationScopes(), " ") {
		t.Fatalf("authorization URL %s", got.AuthorizationURL)
	}
	// The browser: the simulator's page approves at once, then the callback.
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(got.AuthorizationURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to := resp.Header.Get("Location")
	status, text := page(t, w.srv.URL+strings.TrimPrefix(to, publicURL))
	if status != http.StatusOK || !contains(text, loc, "Dashboard") {
		t.Fatalf("callback: %d %s", status, text)
	}
	l, err := w.Deps.Creds.Location(context.Background(), loc)
	if err != nil || l.Name != "Dashboard" || l.Timezone != "Europe/Paris" || l.State != creds.StateActive {
		t.Fatalf("connected %+v, %v", l, err)
	}
	for _, bad := range []string{`{"userType":"Agency"}`, `{"timezone":"Mars/Olympus"}`, `{"locationId":"a.b"}`} {
		if a := w.api(t, http.MethodPost, "/v1/oauth/authorizations", bad); a.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", bad, a.status, a.body)
		}
	}
}
