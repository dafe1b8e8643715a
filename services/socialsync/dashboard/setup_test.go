package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// An admin connects a location through HighLevel's consent page (the
// simulator's, with its real Approve button) and the hosted callback; the
// location appears; pause shows it paused, resume clears it; the test
// console runs the doctor in the stats worker and shows its calls.
func TestDashboardSetupAndConsole(t *testing.T) {
	exe := chromium(t)
	env := fleettest.Start(t, "demo")
	app := env.Sim.Apps()[0]
	env.Deps.Config.GHLClientID, env.Deps.Config.GHLClientSecret = app.ClientID, app.ClientSecret
	// The location to connect is not registered yet.
	newLoc := env.Locations[1]
	if err := env.Deps.Creds.Remove(context.Background(), newLoc.ID); err != nil {
		t.Fatal(err)
	}
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"consentPage": true}, nil)

	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	components, err := cli.Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range components {
		fleettest.Run(t, c.Run)
	}
	g, err := gateway.New(gateway.Config{Config: env.Deps.Config, APIKeyHashes: gateway.HashAPIKey(apiKey),
		WebhookMaxBytes: 65536, WebhookTolerance: 5 * time.Minute, PublishTimeout: 5 * time.Second,
		BodyTimeout: 10 * time.Second, MaxSSEClients: 100, PublicURL: srv.URL, OAuthTimeout: 20 * time.Second,
		GHLAuthURL: env.SimURL + "/oauth/chooselocation"}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	h = g.Handler()
	f := &fleet{Env: env, url: srv.URL}

	b := openBrowser(t, exe)
	b.run("sign in", chromedp.Navigate(srv.URL+"/"), b.visible("#apikey"),
		chromedp.SendKeys(chromedp.CSS("#apikey"), apiKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#setup-panel"))
	b.poll("the connected locations listed", `document.querySelectorAll("#fleet-table tbody tr").length > 0`)
	if n := b.eval(fmt.Sprintf(`document.querySelectorAll('#fleet-table tr[data-location=%q]').length`, newLoc.ID)); n != float64(0) {
		t.Fatalf("%s listed before it is connected", newLoc.ID)
	}

	// Connect: the authorization URL, HighLevel's consent page, Approve,
	// the hosted callback.
	b.run("ask for an authorization", chromedp.Click(chromedp.CSS("#connect-location")), b.visible("#connect-link"))
	authURL, _ := b.eval(`document.querySelector("#connect-link").href`).(string)
	if !strings.HasPrefix(authURL, env.SimURL+"/oauth/chooselocation?") {
		t.Fatalf("authorization URL %q", authURL)
	}
	b.run("the consent page", chromedp.Navigate(authURL), b.visible("#approve"))
	b.eval(fmt.Sprintf(`document.querySelector("select#location").value = %q; true`, newLoc.ID))
	b.run("approve", chromedp.Click(chromedp.CSS("#approve")), b.visible("#outcome"))
	if s := b.text("#outcome"); !strings.Contains(s, newLoc.ID) {
		t.Fatalf("callback page: %q", s)
	}
	b.run("back to the dashboard", chromedp.Navigate(srv.URL+"/"), b.visible("#setup-panel"))
	b.poll("the new location listed", fmt.Sprintf(`document.querySelectorAll('#fleet-table tr[data-location=%q]').length === 1`, newLoc.ID))
	b.eval(fmt.Sprintf(`chooseLocation(%q); true`, newLoc.ID))
	b.poll("its setup shown", fmt.Sprintf(`(document.querySelector("#setup-id") || {}).textContent?.includes(%q) && document.querySelector("#setup-hold").textContent === "running"`, newLoc.ID))
	if s := b.text("#setup-token"); !strings.HasPrefix(s, "valid") {
		t.Errorf("token: %q", s)
	}

	// Pause, then resume.
	b.run("pause", chromedp.Click(chromedp.CSS("#pause-location")))
	b.poll("paused", `document.querySelector("#setup-hold").textContent.startsWith("paused since") && document.querySelector("#setup-panel").dataset.paused === "true"`)
	if s := b.text("#setup-hold"); !strings.Contains(s, "triggers held") && !strings.Contains(s, "trigger held") {
		t.Errorf("hold: %q", s)
	}
	var l struct{ Hold *struct{ Reason string } }
	f.apiGet(t, "/v1/locations/"+newLoc.ID, &l)
	if l.Hold == nil || l.Hold.Reason != "paused" {
		t.Errorf("the API says %+v", l.Hold)
	}
	b.run("resume", chromedp.Click(chromedp.CSS("#resume-location")))
	b.poll("resumed", `document.querySelector("#setup-hold").textContent === "running"`)

	// The test console.
	b.run("run the doctor", chromedp.Click(chromedp.CSS("#run-doctor")))
	b.poll("the doctor's calls", `document.querySelectorAll("#doctor-calls tbody tr").length === 3`)
	if n := b.eval(`document.querySelectorAll('#doctor-calls tbody tr[data-outcome="ok"]').length`); n.(float64) < 2 {
		t.Errorf("calls ok: %v", n)
	}
	if s := b.text("#doctor-scopes"); !strings.HasPrefix(s, "Scopes granted") {
		t.Errorf("scopes: %q", s)
	}
	if raw, _ := b.eval(`document.querySelector("#doctor-calls pre.raw").textContent`).(string); raw == "" || strings.Contains(raw, "Bearer") {
		t.Errorf("raw answer: %.200q", raw)
	}
	shot(t, b.ctx, "setup")

	// Remove it: the confirmation names it and the two options; with
	// purge, the page follows the stats worker's removal until it is done.
	b.run("ask to remove", chromedp.Click(chromedp.CSS("#remove-location")), b.visible("#remove-confirm"))
	if s := b.text("#remove-question"); !strings.Contains(s, newLoc.ID) {
		t.Errorf("confirmation: %q", s)
	}
	if s := b.text("#remove-confirm"); !strings.Contains(s, "Purge:") || !strings.Contains(s, "Purge data:") {
		t.Errorf("the confirmation's options: %q", s)
	}
	b.run("confirm with purge", chromedp.Click(chromedp.CSS("#remove-purge")), chromedp.Click(chromedp.CSS("#remove-confirm-button")))
	b.poll("removed", `(document.querySelector("#removal-progress").dataset.state || "") === "removed"`)
	if s := b.text("#removal-progress"); !strings.Contains(s, newLoc.ID+" removed") || !strings.Contains(s, "tags purged") {
		t.Errorf("removal progress: %q", s)
	}
	var rm struct {
		State string
		Purge bool
	}
	f.apiGet(t, "/v1/locations/"+newLoc.ID+"/removal", &rm)
	if rm.State != "removed" || !rm.Purge {
		t.Errorf("the API says %+v", rm)
	}
	if _, err := env.Deps.Directory.Location(context.Background(), newLoc.ID); err == nil {
		t.Error("the location is still registered")
	}
	b.poll("gone from the picker", fmt.Sprintf(`document.querySelectorAll('#location option[value=%q]').length === 0`, newLoc.ID))
	shot(t, b.ctx, "removed")
}
