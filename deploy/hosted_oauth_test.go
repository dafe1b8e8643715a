// The hosted OAuth flow and agency installs end to end, each component as
// its own NATS user.

package deploy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
	"github.com/socialsync/socialsync/services/stats"
)

// TestHostedOAuthWithTheirOwnUsers: the operator issues an agency's
// authorization URL (connect --hosted), a person approves it on the
// simulator's consent page (its form's Approve button), HighLevel's
// redirect reaches the gateway, which holds no key and hands the code to
// the stats worker; the agency is connected with its schedule. A new
// sub-account's INSTALL connects it, its UNINSTALL disconnects it, a
// second sub-account whose INSTALL was missed is picked up by
// `locations sync-agency`; no user hits a permission violation.
func TestHostedOAuthWithTheirOwnUsers(t *testing.T) {
	n, simSrv, key, _ := withLocation(t)
	var apps struct {
		Apps []struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
			CompanyID    string `json:"companyId"`
		} `json:"apps"`
		WebhookPublicKey string `json:"webhookPublicKey"`
	}
	fleettest.Admin(t, simSrv.URL, http.MethodGet, "/_sandbox/apps", nil, &apps)
	app := apps.Apps[0]
	const public = "https://socialsync.example"

	// The stats worker holds the app's secret.
	sd := n.deps(t, "stats", simSrv.URL, key)
	sd.Config.GHLClientID, sd.Config.GHLClientSecret = app.ClientID, app.ClientSecret
	scfg := defaults[stats.Config](t)
	scfg.Config = sd.Config
	w, err := cli.NewStats(context.Background(), scfg, sd)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.RunWorker(t, sd, "stats", w)

	_, srv := serveGateway(t, n, simSrv.URL, func(c *gateway.Config) {
		c.APIKeyHashes, c.HighLevelWebhookKey, c.PublicURL = gateway.HashAPIKey("sk-test-0123456789abcdef"), apps.WebhookPublicKey, public
	})

	t.Setenv("SOCIALSYNC_PUBLIC_URL", public)
	t.Setenv("SOCIALSYNC_GHL_CLIENT_ID", app.ClientID)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", simSrv.URL)
	t.Setenv("SOCIALSYNC_GHL_AUTH_URL", simSrv.URL+"/oauth/chooselocation")
	out := n.operatorRun(t, "connect", "--hosted", "--browser=false", "--user-type", "Company")
	authURL := regexp.MustCompile(`https?://\S+/oauth/chooselocation\?\S+`).FindString(out)
	if authURL == "" {
		t.Fatalf("connect --hosted printed no authorization URL:\n%s", out)
	}

	// The person: the consent page's form, approved.
	fleettest.Admin(t, simSrv.URL, http.MethodPut, "/_sandbox/config", map[string]any{"consentPage": true}, nil)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `id="approve"`) {
		t.Fatalf("consent page without an Approve button: %s", body)
	}
	form := url.Values{"decision": {"approve"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], htmlUnescape(m[2]))
	}
	resp, err = browser.PostForm(simSrv.URL+"/oauth/chooselocation", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	to := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(to, public+gateway.CallbackPath) {
		t.Fatalf("approve: %s to %q", resp.Status, to)
	}
	resp, err = http.Get(srv.URL + strings.TrimPrefix(to, public))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Agency "+app.CompanyID+" is connected") {
		t.Fatalf("callback: %d %s", resp.StatusCode, page)
	}

	ctx := context.Background()
	location := func(id string) creds.Location {
		l, _ := sd.Creds.Location(ctx, id)
		return l
	}
	// A new sub-account, its INSTALL through the gateway.
	fleettest.Admin(t, simSrv.URL, http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": srv.URL + "/v1/highlevel/webhooks",
		"installWebhooks": true, "webhookRetry": "200ms"}, nil)
	var created struct{ ID string }
	fleettest.Admin(t, simSrv.URL, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Installed"}, &created)
	fleettest.Eventually(t, 30*time.Second, "INSTALL connected the sub-account", func() bool {
		return location(created.ID).State == creds.StateActive
	})
	fleettest.Admin(t, simSrv.URL, http.MethodPost, "/_sandbox/locations/"+created.ID+"/uninstall", nil, nil)
	fleettest.Eventually(t, 30*time.Second, "UNINSTALL disconnected it", func() bool {
		return location(created.ID).State == creds.StateUninstalled
	})

	// Missed: no webhook reaches socialsync; the operator's sync finds it.
	fleettest.Admin(t, simSrv.URL, http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": ""}, nil)
	fleettest.Admin(t, simSrv.URL, http.MethodPost, "/_sandbox/locations", map[string]any{"name": "Missed"}, &created)
	t.Setenv("SOCIALSYNC_GHL_CLIENT_SECRET", app.ClientSecret)
	if out := n.operatorRun(t, "locations", "sync-agency"); !strings.Contains(out, created.ID) {
		t.Fatalf("sync-agency did not connect %s:\n%s", created.ID, out)
	}
	if l := location(created.ID); l.State != creds.StateActive {
		t.Fatalf("after sync-agency: %+v", l)
	}
	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations:\n%s", strings.Join(v, "\n"))
	}
}

// serveGateway runs the gateway as its own NATS user, with no token key,
// its configuration read as the binary reads it and then changed by
// change, and serves it over HTTP until the test ends.
func serveGateway(t *testing.T, n *natsEnv, simURL string, change func(*gateway.Config)) (*fleet.Deps, *httptest.Server) {
	t.Helper()
	gd := n.deps(t, "gateway", simURL, "")
	gcfg := defaults[gateway.Config](t)
	gcfg.Config = gd.Config
	change(&gcfg)
	g, err := gateway.New(gcfg, gd)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return gd, srv
}

// htmlUnescape undoes html/template's escaping of an attribute value.
func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}
