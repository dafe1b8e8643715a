package fleettest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Authorize plays the browser through the chooselocation page of the
// simulator at simURL for location loc (the first location when empty)
// and scope (all of the app's when empty), then exchanges the code as app
// for tokens of userType (ghl.UserTypeLocation or ghl.UserTypeCompany).
func Authorize(tb testing.TB, simURL string, app ghl.AppCredentials, loc, scope, userType string) creds.Token {
	tb.Helper()
	const redirect = "http://127.0.0.1:1/callback"
	c, err := ghl.New(ghl.Options{BaseURL: simURL, MaxRetries: -1})
	if err != nil {
		tb.Fatal(err)
	}
	var opts []oauth2.AuthCodeOption
	if loc != "" {
		opts = append(opts, oauth2.SetAuthURLParam("location_id", loc))
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(c.OAuthConfig(app, simURL+"/oauth/chooselocation", redirect, strings.Fields(scope)).AuthCodeURL("st", opts...))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || u.Query().Get("state") != "st" {
		tb.Fatalf("chooselocation: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	issued := time.Now()
	tok, err := c.ExchangeCode(context.Background(), app, u.Query().Get("code"), redirect, userType)
	if err != nil {
		tb.Fatal(err)
	}
	return creds.TokenFromGHL(tok, app.ClientID, issued)
}
