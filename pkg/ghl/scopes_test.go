package ghl_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// The table agrees with HighLevel's OpenAPI files: where an operation's
// security block names scopes, the table's is one of them and claims no
// other source; where it names none, the table says where its scope comes
// from.
func TestEndpointScopesAgreeWithOpenAPI(t *testing.T) {
	dir, ok := ghlspec.Locate()
	if !ok {
		t.Skipf("HighLevel's OpenAPI files not found at %s", dir)
	}
	declared, err := ghlspec.Scopes(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ghl.EndpointScopes() {
		key := e.Method + " " + e.Path
		switch want := declared[key]; {
		case len(want) > 0 && !slices.Contains(want, e.Scope):
			t.Errorf("%s: table says %s, the OpenAPI files say %v", key, e.Scope, want)
		case len(want) > 0 && e.Source != "":
			t.Errorf("%s: the OpenAPI files name %v; the table should not cite %q", key, want, e.Source)
		case len(want) == 0 && e.Source == "":
			t.Errorf("%s: the OpenAPI files name no scope; the table must say where %s comes from", key, e.Scope)
		}
	}
}

// route is a method and route template in a request literal of the
// package: `method: http.MethodGet, template: "/…"`, or with the method in
// a variable (`method: method`), which stands for any method.
var route = regexp.MustCompile(`method:\s*(?:http\.Method(\w+)|\w+),\s*template:\s*"([^"]+)"`)

// Every endpoint the client calls with a bearer token is in the table, and
// the table lists nothing the client does not call.
func TestEndpointScopesCoverEveryCall(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	called := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(data), -1) {
			method := strings.ToUpper(m[1])
			if method == "" {
				method = "*"
			}
			if m[2] != "/oauth/token" { // no bearer, no scope
				called[method+" "+m[2]] = true
			}
		}
	}
	if len(called) < 15 {
		t.Fatalf("found only %d routes in the sources: %v", len(called), called)
	}
	listed := map[string]bool{}
	for _, e := range ghl.EndpointScopes() {
		listed[e.Method+" "+e.Path] = true
		if _, ok := ghl.ScopeFor(e.Method, e.Path); !ok {
			t.Errorf("ScopeFor(%s %s) finds nothing", e.Method, e.Path)
		}
	}
	for k := range called {
		if method, path, _ := strings.Cut(k, " "); method == "*" {
			if !slices.ContainsFunc(ghl.EndpointScopes(), func(e ghl.EndpointScope) bool { return e.Path == path }) {
				t.Errorf("the client calls %s, which the scope table lacks", k)
			}
		} else if !listed[k] {
			t.Errorf("the client calls %s, which the scope table lacks", k)
		}
	}
	for k := range listed {
		_, path, _ := strings.Cut(k, " ")
		if !called[k] && !called["* "+path] {
			t.Errorf("the scope table lists %s, which the client never calls", k)
		}
	}
}

func TestLocationScopes(t *testing.T) {
	want := []string{
		"contacts.readonly", "contacts.write", "locations.readonly", "locations/customFields.readonly", "locations/customValues.readonly",
		"locations/customValues.write", "locations/tags.readonly", "locations/tags.write",
		"socialplanner/account.readonly", "socialplanner/post.readonly", "socialplanner/statistics.readonly",
		"socialplanner/tag.readonly",
	}
	if got := ghl.LocationScopes(); !slices.Equal(got, want) {
		t.Errorf("LocationScopes() = %v, want %v", got, want)
	}
	if got := ghl.AgencyScopes(); !slices.Equal(got, []string{"oauth.readonly", "oauth.write"}) {
		t.Errorf("AgencyScopes() = %v", got)
	}
}

// A 401 for a missing scope is a *ScopeError naming the scope: the token
// is not invalidated (a refreshed token has the same scopes) and the call
// is not repeated.
func TestSimScopeDeniedIsAScopeError(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, _ := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	app := sb.app()
	const redirect = "http://localhost:7777/callback"
	ctx := context.Background()
	code := sb.authorize(app, loc, redirect, "st") // no locations/tags.readonly
	tok, err := sb.client("", ghl.Options{}).ExchangeCode(ctx, ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret},
		code, redirect, ghl.UserTypeLocation)
	if err != nil {
		t.Fatal(err)
	}
	src := &swappingSource{cur: tok.AccessToken, good: "replaced"}
	c := sb.client("", ghl.Options{}).ForLocation(loc, src)

	_, err = c.LocationTags(ctx, loc)
	var se *ghl.ScopeError
	if !errors.As(err, &se) || se.MissingScope() != "locations/tags.readonly" || !ghl.IsAuth(err) {
		t.Fatalf("err = %v; want a ScopeError for locations/tags.readonly of class auth", err)
	}
	if len(src.invalidated) != 0 {
		t.Errorf("invalidated %q; a missing scope is no reason to refresh", src.invalidated)
	}
	if n, statuses := count(sb.requests(loc), http.MethodGet, "/locations/"+loc+"/tags"); n != 1 || statuses[0] != http.StatusUnauthorized {
		t.Errorf("%d requests answered %v; want one 401", n, statuses)
	}
	// A granted scope works with the same token.
	if _, err := c.AllSocialTags(ctx, loc); err != nil {
		t.Errorf("AllSocialTags: %v", err)
	}
}
