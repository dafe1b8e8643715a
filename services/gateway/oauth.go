package gateway

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// CallbackPath is the hosted OAuth flow's redirect URI, under
// SOCIALSYNC_PUBLIC_URL: register <public URL>/oauth/callback with the app.
const CallbackPath = "/oauth/callback"

// DefaultOAuthTimeout is SOCIALSYNC_GATEWAY_OAUTH_TIMEOUT's default.
const DefaultOAuthTimeout = 20 * time.Second

// oauthCallback is GET /oauth/callback: HighLevel's redirect after a user
// authorized the app. A state must be one `socialsync connect --hosted`
// issued, unused and under 10 minutes old (creds.AuthRequests.Take: the
// gateway may read and delete in BucketOAuthStates); a callback without
// one is an install started in HighLevel's Marketplace and connects
// whatever its token names. The code goes to the worker that holds the
// token key and the client secret (creds.Connector, over
// topology.SubjectOAuthConnect): the gateway holds neither. The page
// waits for the outcome, at most SOCIALSYNC_GATEWAY_OAUTH_TIMEOUT, and
// says what was connected, or why not.
func (g *Gateway) oauthCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, code := q.Get("state"), q.Get("code")
	var want *creds.AuthRequest
	if state != "" {
		req, err := g.authRequests.Take(r.Context(), state)
		if errors.Is(err, creds.ErrUnknownState) {
			g.log.Info("oauth callback refused: unknown state")
			callbackPage(w, http.StatusBadRequest, "socialsync did not accept this authorization",
				"Its state is unknown, already used, or older than "+topology.OAuthStateTTL.String()+
					". Start again with socialsync connect --hosted; each authorization URL works once.")
			return
		}
		if err != nil {
			g.log.Warn("oauth callback: read the state", "err", err)
			callbackPage(w, http.StatusServiceUnavailable, "socialsync could not check this authorization", "JetStream did not answer; reload this page in a moment.")
			return
		}
		want = &req
	}
	if e := q.Get("error"); e != "" {
		callbackPage(w, http.StatusBadRequest, "HighLevel did not authorize socialsync", clip(strings.TrimSpace(e+" "+q.Get("error_description")), 200))
		return
	}
	if code == "" {
		callbackPage(w, http.StatusBadRequest, "socialsync could not connect", "The callback carried no authorization code.")
		return
	}
	redirect := g.callbackURI()
	if want != nil && want.RedirectURI != "" {
		redirect = want.RedirectURI
	}
	if redirect == "" {
		callbackPage(w, http.StatusServiceUnavailable, "socialsync could not connect",
			"The gateway does not know its public URL (SOCIALSYNC_PUBLIC_URL), which the code exchange repeats.")
		return
	}
	reply, ok := g.askConnector(w, r.Context(), creds.ConnectRequest{Kind: creds.ConnectCallback, Code: code, RedirectURI: redirect, Request: want})
	if !ok {
		return
	}
	if reply.Error != "" {
		status := http.StatusBadRequest
		if reply.Retry {
			status = http.StatusServiceUnavailable
		}
		callbackPage(w, status, "socialsync could not connect", reply.Error)
		return
	}
	detail := "hosted oauth"
	if want == nil {
		detail = "marketplace install"
	}
	g.recordConnections(r.Context(), audit.ByBrowser, audit.ActionConnect, detail, reply)
	callbackPage(w, http.StatusOK, "socialsync is connected", connectedText(reply, want == nil))
}

// recordConnections writes an audit entry for each location a reply of
// the worker connected or disconnected. A failure to record is logged:
// the connection is done.
func (g *Gateway) recordConnections(ctx context.Context, who, action, detail string, reply creds.ConnectReply) {
	for _, l := range reply.Locations {
		if err := g.audit.Record(context.WithoutCancel(ctx), audit.Entry{Who: who, Action: action, Location: l.ID, Detail: detail}); err != nil {
			g.log.Warn("audit: record", "action", action, "location", l.ID, "err", err)
		}
	}
}

// askConnector hands req to the worker and waits for its reply. When
// there is none, it answers the page itself and reports false.
func (g *Gateway) askConnector(w http.ResponseWriter, ctx context.Context, req creds.ConnectRequest) (creds.ConnectReply, bool) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.OAuthTimeout)
	defer cancel()
	reply, err := creds.RequestConnect(ctx, g.deps.Conn, req)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		g.log.Warn("oauth: no worker holds the credentials", "kind", req.Kind)
		callbackPage(w, http.StatusServiceUnavailable, "socialsync could not connect",
			"No worker that holds the app's credentials is running (the stats worker); nothing was connected.")
		return reply, false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		g.log.Warn("oauth: the worker did not answer in time", "kind", req.Kind)
		callbackPage(w, http.StatusGatewayTimeout, "socialsync is still connecting",
			"The worker did not answer within "+g.cfg.OAuthTimeout.String()+"; socialsync locations list shows whether it connected.")
		return reply, false
	case err != nil:
		g.log.Warn("oauth: ask the worker", "kind", req.Kind, "err", err)
		callbackPage(w, http.StatusServiceUnavailable, "socialsync could not connect", "NATS did not answer; nothing was connected.")
		return reply, false
	}
	return reply, true
}

// connectedText says what a reply connected; marketplace marks an
// install that socialsync did not start.
func connectedText(reply creds.ConnectReply, marketplace bool) string {
	var b strings.Builder
	if marketplace {
		b.WriteString("This install was started in HighLevel's Marketplace, not by socialsync connect: socialsync connected what the token names. ")
	}
	if reply.UserType == ghl.UserTypeCompany {
		fmt.Fprintf(&b, "Agency %s is connected (its token is kept, and locations installed later connect by themselves); %d locations connected", reply.CompanyID, len(reply.Locations))
	} else {
		b.WriteString("Location connected")
	}
	for i, l := range reply.Locations {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + l.ID)
		if l.Name != "" {
			b.WriteString(" (" + l.Name + ")")
		}
	}
	b.WriteString(".")
	return b.String()
}

// checkPublicURL checks SOCIALSYNC_PUBLIC_URL: empty, or an http(s) base
// URL without query or fragment.
func checkPublicURL(public string) error {
	if public == "" {
		return nil
	}
	u, err := url.Parse(public)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%w: SOCIALSYNC_PUBLIC_URL: want the gateway's public http(s) base URL, got %s", fleet.ErrConfig, quote(public))
	}
	return nil
}

// callbackURI is CallbackPath under SOCIALSYNC_PUBLIC_URL, or empty.
func (g *Gateway) callbackURI() string {
	if g.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(g.cfg.PublicURL, "/") + CallbackPath
}

// callbackPage answers the browser with a page saying title and text.
func callbackPage(w http.ResponseWriter, status int, title, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1><p id=\"outcome\">%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(text))
}

// The app install webhooks.
const (
	hlInstall   = "INSTALL"
	hlUninstall = "UNINSTALL"
)

// highLevelInstall handles a signed INSTALL or UNINSTALL delivery d: the
// worker holding the keys connects a location of a connected agency, or
// records a location-level install until its callback, or disconnects
// what an uninstall names. It is answered 200 once the worker did it, and
// 429 when it could not (HighLevel delivers again on 429 only; the
// agency's periodic sync catches what is still missed).
func (g *Gateway) highLevelInstall(w http.ResponseWriter, r *http.Request, d highLevelDelivery, webhookID, key string) {
	kind := creds.ConnectInstall
	if d.Type == hlUninstall {
		kind = creds.ConnectUninstall
	}
	if d.LocationID == "" && d.CompanyID == "" {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "locationId or companyId: required in an "+d.Type)
		return
	}
	ctx := r.Context()
	if rec, found, err := g.seen(ctx, key); err != nil {
		unavailable(w, "JetStream is unavailable; HighLevel delivers again later")
		return
	} else if found {
		writeJSON(w, http.StatusOK, highLevelAnswer{Status: "duplicate", Type: d.Type, WebhookID: webhookID, Subject: rec.Subject})
		return
	}
	rctx, cancel := context.WithTimeout(ctx, g.cfg.OAuthTimeout)
	defer cancel()
	reply, err := creds.RequestConnect(rctx, g.deps.Conn, creds.ConnectRequest{Kind: kind, CompanyID: d.CompanyID, LocationID: d.LocationID})
	if err != nil {
		g.log.Warn("highlevel webhook: hand the install to the worker", "type", d.Type, "err", err)
		unavailable(w, "no worker that holds the app's credentials answered; HighLevel delivers again later")
		return
	}
	if reply.Error != "" {
		g.log.Warn("highlevel webhook: install not done", "type", d.Type, "location", d.LocationID, "err", reply.Error)
		unavailable(w, d.Type+" not done: "+reply.Error+"; HighLevel delivers again later")
		return
	}
	g.remember(ctx, key, webhookRecord{Subject: topology.SubjectOAuthConnect, Source: "highlevel", At: g.now().UTC()})
	action := audit.ActionConnect
	if kind == creds.ConnectUninstall {
		action = audit.ActionUninstall
	}
	g.recordConnections(ctx, audit.ByWebhook, action, "highlevel "+d.Type, reply)
	status := "accepted"
	if reply.Pending {
		status = "pending"
	}
	writeJSON(w, http.StatusOK, highLevelAnswer{Status: status, Type: d.Type, WebhookID: webhookID})
}

// gone refuses, with 410 "location_uninstalled", work for a location
// whose app was uninstalled in HighLevel: nothing is stored.
func gone(w http.ResponseWriter, l creds.Location) bool {
	if l.State != creds.StateUninstalled {
		return false
	}
	writeError(w, http.StatusGone, "location_uninstalled",
		"location "+l.ID+" was uninstalled in HighLevel on "+l.StateSince.UTC().Format("2006-01-02 15:04Z")+
			": nothing was stored; install the app on it again to connect it")
	return true
}

// triggerable is location for the routes that store work: a location
// uninstalled in HighLevel is refused (gone).
func (g *Gateway) triggerable(w http.ResponseWriter, r *http.Request) (creds.Location, bool) {
	l, ok := g.location(w, r)
	if !ok || gone(w, l) {
		return creds.Location{}, false
	}
	return l, true
}

// checkInstallIDs checks an install webhook's ids: each, when present,
// a HighLevel id.
func checkInstallIDs(d highLevelDelivery) error {
	if d.LocationID != "" {
		if err := ids.CheckHighLevel("locationId", d.LocationID); err != nil {
			return err
		}
	}
	if d.CompanyID != "" {
		if err := ids.CheckHighLevel("companyId", d.CompanyID); err != nil {
			return err
		}
	}
	return nil
}

// DefaultGHLAuthURL is SOCIALSYNC_GHL_AUTH_URL's default: HighLevel's
// authorization page.
const DefaultGHLAuthURL = "https://marketplace.gohighlevel.com/oauth/chooselocation"

// checkAuthURL checks SOCIALSYNC_GHL_AUTH_URL: an http(s) URL.
func checkAuthURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: SOCIALSYNC_GHL_AUTH_URL: want HighLevel's http(s) authorization page, got %s", fleet.ErrConfig, quote(s))
	}
	return nil
}

// authorizationBody is the body of POST /v1/oauth/authorizations; every
// field is optional.
type authorizationBody struct {
	UserType   string `json:"userType"`
	LocationID string `json:"locationId"`
	Name       string `json:"name"`
	Timezone   string `json:"timezone"`
}

// authorizationAnswer is what POST /v1/oauth/authorizations answers.
type authorizationAnswer struct {
	AuthorizationURL string    `json:"authorizationUrl"`
	RedirectURI      string    `json:"redirectUri"`
	ExpiresAt        time.Time `json:"expiresAt"`
}

// createAuthorization is POST /v1/oauth/authorizations (admin): what
// `socialsync connect --hosted` does, for the dashboard. It issues a
// state (the gateway may create in BucketOAuthStates) and answers the
// authorization URL, with the scopes of pkg/ghl's table and the
// gateway's callback as redirect URI; it works once, within
// topology.OAuthStateTTL. The gateway needs the app's client id, never
// its secret.
func (g *Gateway) createAuthorization(w http.ResponseWriter, r *http.Request) {
	var b authorizationBody
	if !g.decodeTrigger(w, r, &b) {
		return
	}
	if b.UserType == "" {
		b.UserType = ghl.UserTypeLocation
	}
	switch {
	case b.UserType != ghl.UserTypeLocation && b.UserType != ghl.UserTypeCompany:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "userType: want Location or Company, got "+quote(b.UserType))
		return
	case b.LocationID != "" && !ids.ValidHighLevel(b.LocationID):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "locationId: want a HighLevel location id (letters and digits), got "+quote(b.LocationID))
		return
	case b.Timezone != "" && !validZone(b.Timezone):
		writeError(w, http.StatusUnprocessableEntity, "invalid", "timezone: want an IANA time zone such as Europe/Berlin, got "+quote(b.Timezone))
		return
	case len(b.Name) > 256:
		writeError(w, http.StatusUnprocessableEntity, "invalid", "name: at most 256 bytes")
		return
	}
	redirect := g.callbackURI()
	if redirect == "" || g.cfg.GHLClientID == "" {
		writeError(w, http.StatusServiceUnavailable, "not_configured",
			"the hosted OAuth flow needs SOCIALSYNC_PUBLIC_URL and SOCIALSYNC_GHL_CLIENT_ID on the gateway")
		return
	}
	state, err := g.authRequests.Issue(r.Context(), creds.AuthRequest{UserType: b.UserType, Location: b.LocationID,
		Name: b.Name, Timezone: b.Timezone, RedirectURI: redirect})
	if err != nil {
		g.storeError(w, "issue an OAuth state", err)
		return
	}
	oc := g.deps.GHL.OAuthConfig(ghl.AppCredentials{ClientID: g.cfg.GHLClientID}, g.cfg.GHLAuthURL, redirect, ghl.ConnectScopes(b.UserType))
	var opts []oauth2.AuthCodeOption
	if b.LocationID != "" {
		opts = append(opts, oauth2.SetAuthURLParam("location_id", b.LocationID))
	}
	writeJSON(w, http.StatusCreated, authorizationAnswer{AuthorizationURL: oc.AuthCodeURL(state, opts...), RedirectURI: redirect,
		ExpiresAt: g.now().Add(topology.OAuthStateTTL).UTC()})
}

// validZone reports whether name is an IANA time zone.
func validZone(name string) bool {
	if name == "Local" || name == "" {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}
