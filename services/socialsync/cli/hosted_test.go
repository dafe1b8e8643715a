package cli

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/topology"
)

// connect --hosted needs the gateway's public URL, prints the
// authorization URL whose redirect is the gateway's callback, with the
// scopes of pkg/ghl's table and a state issued into the bucket the
// gateway takes it from, once.
func TestConnectHosted(t *testing.T) {
	oauthSandbox(t)
	env := bustest.Start(t, topology.Options{})
	t.Setenv("SOCIALSYNC_PUBLIC_URL", "")
	_, errOut, code := runCLI(t, "connect", "--hosted", "--browser=false", "--nats", env.URL())
	if code != 2 || !strings.Contains(errOut, "SOCIALSYNC_PUBLIC_URL") {
		t.Fatalf("without the public URL: exit %d, %s", code, errOut)
	}
	t.Setenv("SOCIALSYNC_PUBLIC_URL", "https://socialsync.example/")
	// The hosted flow needs no secret and no token key: the worker
	// behind the gateway has them.
	t.Setenv("SOCIALSYNC_GHL_CLIENT_SECRET", "")
	t.Setenv("SOCIALSYNC_TOKEN_KEY", "")
	out, errOut, code := runCLI(t, "connect", "--hosted", "--browser=false", "--nats", env.URL(), "--user-type", "Company", "--location", "loc1")
	if code != 0 {
		t.Fatalf("connect --hosted: exit %d, %s", code, errOut)
	}
	m := printedAuthURL.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no authorization URL in %q", out)
	}
	u, err := url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("redirect_uri") != "https://socialsync.example/oauth/callback" || q.Get("location_id") != "loc1" {
		t.Errorf("authorization URL %s", u)
	}
	if got, want := q.Get("scope"), strings.Join(ghl.ConnectScopes(ghl.UserTypeCompany), " "); got != want {
		t.Errorf("scopes %q, want %q", got, want)
	}
	reqs, err := creds.OpenAuthRequests(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	r, err := reqs.Take(context.Background(), q.Get("state"))
	if err != nil || r.UserType != ghl.UserTypeCompany || r.Location != "loc1" || r.RedirectURI != q.Get("redirect_uri") {
		t.Fatalf("the issued state: %+v, %v", r, err)
	}
	if _, err := reqs.Take(context.Background(), q.Get("state")); !errors.Is(err, creds.ErrUnknownState) {
		t.Fatalf("the state taken twice: %v", err)
	}
}
