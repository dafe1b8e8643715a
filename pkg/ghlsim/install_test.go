package ghlsim

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// With the consent page on, the authorization page is a form: Approve
// issues the code for the sub-account chosen, Deny redirects with
// access_denied; both keep the state.
func TestConsentPage(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	e.setConfig(`{"consentPage":true}`)
	q := url.Values{"response_type": {"code"}, "client_id": {a.ClientID}, "redirect_uri": {"http://127.0.0.1:9999/callback?keep=1"},
		"scope": {"socialplanner/tag.readonly"}, "state": {"st-1"}}
	page := e.request("GET", "/oauth/chooselocation?"+q.Encode(), nil).want(t, http.StatusOK)
	body := string(page.body)
	if !strings.Contains(body, `id="approve"`) || !strings.Contains(body, `id="deny"`) || !strings.Contains(body, e.loc(1).ID) {
		t.Fatalf("consent page: %s", body)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		form.Set(m[1], strings.NewReplacer("&#43;", "+", "&amp;", "&").Replace(m[2]))
	}
	form.Set("location_id", e.loc(1).ID)
	form.Set("decision", "approve")
	r := e.request("POST", "/oauth/chooselocation", form).want(t, http.StatusFound)
	u, _ := url.Parse(r.header.Get("Location"))
	if u.Query().Get("code") == "" || u.Query().Get("state") != "st-1" {
		t.Fatalf("approve redirected to %s", u)
	}
	var tok ghl.Token
	e.exchange(a, u.Query().Get("code"), "Location").want(t, http.StatusOK).decode(t, &tok)
	if tok.LocationID != e.loc(1).ID {
		t.Fatalf("approved for %s, want the chosen %s", tok.LocationID, e.loc(1).ID)
	}
	form.Set("decision", "deny")
	r = e.request("POST", "/oauth/chooselocation", form).want(t, http.StatusFound)
	u, _ = url.Parse(r.header.Get("Location"))
	if u.Query().Get("error") != "access_denied" || u.Query().Get("code") != "" || u.Query().Get("state") != "st-1" {
		t.Fatalf("deny redirected to %s", u)
	}
}

// With installWebhooks on, a new sub-account sends INSTALL; an uninstall
// revokes its tokens, hides it from the agency and sends UNINSTALL, each
// signed with the published key.
func TestInstallWebhooks(t *testing.T) {
	e := newEnv(t, "demo")
	a := e.sim.Apps()[0]
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	e.setConfig(`{"webhookUrl":"` + srv.URL + `","installWebhooks":true}`)
	var created struct{ ID string }
	e.admin("POST", "/_sandbox/locations", map[string]any{"name": "New"}).want(t, http.StatusCreated).decode(t, &created)
	loc := created.ID
	tok := e.oauthToken("socialplanner/tag.readonly", loc, "Location")
	agency := e.oauthToken("oauth.readonly oauth.write", "", "Company")
	e.admin("POST", "/_sandbox/locations/"+loc+"/uninstall", nil).want(t, http.StatusOK)

	// Each delivery is sent on its own: they may arrive in either order.
	got := rc.wait(t, 2)
	pub := e.sim.webhookKey().Public().(ed25519.PublicKey)
	byType := map[string]installBody{}
	for _, d := range got {
		sig, _ := base64.StdEncoding.DecodeString(d.sig)
		var b installBody
		if err := json.Unmarshal(d.body, &b); err != nil {
			t.Fatal(err)
		}
		if !ed25519.Verify(pub, d.body, sig) {
			t.Errorf("%s: bad signature", b.Type)
		}
		byType[b.Type] = b
	}
	for _, want := range []string{WebhookInstall, WebhookUninstall} {
		b, ok := byType[want]
		if !ok || b.LocationID != loc || b.CompanyID != a.CompanyID || b.AppID == "" || b.WebhookID == "" || b.Timestamp == "" {
			t.Errorf("%s: %+v (received: %v)", want, b, ok)
		}
	}
	// Its token is revoked, the agency no longer lists it nor gets its token.
	e.api("GET", "/social-media-posting/"+loc+"/tags", tok.AccessToken, nil).want(t, http.StatusUnauthorized)
	var listed ghl.InstalledLocationsResponse
	e.api("GET", "/oauth/installedLocations?companyId="+a.CompanyID+"&appId="+strings.SplitN(a.ClientID, "-", 2)[0]+"&limit=100", agency.AccessToken, nil).
		want(t, http.StatusOK).decode(t, &listed)
	for _, l := range listed.Locations {
		if l.ID == loc {
			t.Errorf("the uninstalled location is still listed")
		}
	}
	e.api("POST", "/oauth/locationToken", agency.AccessToken, url.Values{"companyId": {a.CompanyID}, "locationId": {loc}}).want(t, http.StatusBadRequest)
}
