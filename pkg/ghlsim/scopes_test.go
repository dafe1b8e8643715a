package ghlsim

import (
	"slices"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// The simulator's scope per endpoint is its own table, checked here
// against the OpenAPI files where they name a scope, and against the
// client's table for every endpoint the client calls (the client's table
// is itself checked against the OpenAPI files in pkg/ghl).
func TestEndpointScopesAgree(t *testing.T) {
	dir, ok := ghlspec.Locate()
	if !ok {
		t.Skipf("HighLevel's OpenAPI files not found at %s", dir)
	}
	declared, err := ghlspec.Scopes(dir)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(Options{Seed: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, e := range sim.endpoints() {
		served[e.pattern] = true
		names := scopeNames(e.need)
		if len(names) != 1 {
			t.Errorf("%s needs %v; want exactly one scope", e.pattern, names)
			continue
		}
		if want := declared[e.pattern]; len(want) > 0 && !slices.Contains(want, names[0]) {
			t.Errorf("%s: the simulator needs %s, the OpenAPI files say %v", e.pattern, names[0], want)
		}
		method, path, _ := strings.Cut(e.pattern, " ")
		if want, ok := ghl.ScopeFor(method, path); ok && want != names[0] {
			t.Errorf("%s: the simulator needs %s, the client's table says %s", e.pattern, names[0], want)
		}
	}
	for _, e := range ghl.EndpointScopes() {
		if !served[e.Method+" "+e.Path] {
			t.Errorf("the client calls %s %s, which the simulator does not serve", e.Method, e.Path)
		}
	}
}
