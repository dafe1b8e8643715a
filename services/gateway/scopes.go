package gateway

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// API keys carry scopes and, optionally, a list of locations
// (SOCIALSYNC_API_KEY_HASHES, parsed in secrets.go). Every route names the
// scope it needs (routes, in gateway.go); authenticated refuses a key
// without it. A location-limited key is refused every location it does
// not list (allow, and location for the {loc} routes), and every listing
// it reads is filtered to its locations.

// scope is a set of API scopes, one bit each.
type scope uint8

const (
	// scopeRead reads locations, tags, statistics, reports, definitions,
	// dead letters, the pipeline and the live events.
	scopeRead scope = 1 << iota
	// scopeTrigger publishes triggers (post, tag details, statistics).
	scopeTrigger
	// scopeDefinitions stores and deletes segments and workflows.
	scopeDefinitions
	// scopeDeadLetters replays dead letters.
	scopeDeadLetters
	// scopeAdmin is every scope, for every location, and what
	// fleet-wide settings (webhook sources) need.
	scopeAdmin

	scopeAll = scopeRead | scopeTrigger | scopeDefinitions | scopeDeadLetters | scopeAdmin
	// scopeAny is asked of routes any valid key may call (GET /v1/me).
	scopeAny scope = 0
)

// scopeNames returns the names of the scopes in s, in a fixed order.
func scopeNames(s scope) []string {
	var out []string
	for _, name := range []string{"read", "trigger", "definitions", "deadletters", "admin"} {
		if b, _ := scopeNamed(name); s&b != 0 {
			out = append(out, name)
		}
	}
	return out
}

// scopeNamed returns the scope called name.
func scopeNamed(name string) (scope, bool) {
	switch name {
	case "read":
		return scopeRead, true
	case "trigger":
		return scopeTrigger, true
	case "definitions":
		return scopeDefinitions, true
	case "deadletters":
		return scopeDeadLetters, true
	case "admin":
		return scopeAdmin, true
	}
	return 0, false
}

// apiKey is one accepted API key: its digest, its scopes, and the
// locations it is limited to (nil: every location).
type apiKey struct {
	hash      []byte
	scopes    scope
	locations map[string]bool
}

// has reports whether the key holds every scope of s; admin holds all.
func (k apiKey) has(s scope) bool { return k.scopes&scopeAdmin != 0 || k.scopes&s == s }

// limited reports whether the key is limited to some locations.
func (k apiKey) limited() bool { return k.locations != nil }

// allows reports whether the key may see and act for location loc.
func (k apiKey) allows(loc string) bool { return k.locations == nil || k.locations[loc] }

// allowsAll reports whether the key may see every location of locs; a
// location-limited key is refused an empty list, which means every
// location.
func (k apiKey) allowsAll(locs []string) bool {
	if !k.limited() {
		return true
	}
	return len(locs) > 0 && !slices.ContainsFunc(locs, func(l string) bool { return !k.locations[l] })
}

// locationList returns the key's locations, sorted; nil for every
// location.
func (k apiKey) locationList() []string {
	if k.locations == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.locations))
}

type keyContext struct{}

// withKey returns r carrying the key it authenticated with.
func withKey(r *http.Request, k apiKey) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), keyContext{}, k))
}

// keyOfRequest returns the key r authenticated with. A request that did
// not authenticate gets a key that may do and see nothing.
func keyOfRequest(r *http.Request) apiKey {
	if k, ok := r.Context().Value(keyContext{}).(apiKey); ok {
		return k
	}
	return apiKey{locations: map[string]bool{}}
}

// missingScope is the refusal of a key that lacks the scope s.
func missingScope(k apiKey, s scope) *refusal {
	has := "none"
	if names := scopeNames(k.scopes); len(names) > 0 {
		has = strings.Join(names, ", ")
	}
	return &refusal{status: http.StatusForbidden, code: "missing_scope",
		message: "this API key lacks the " + strings.Join(scopeNames(s), "+") + " scope (it has " + has + ")"}
}

// allow answers 403 and returns false when the request's key may not see
// location loc.
func allow(w http.ResponseWriter, r *http.Request, loc string) bool {
	k := keyOfRequest(r)
	if k.allows(loc) {
		return true
	}
	refuseLocation(w, k, quote(loc))
	return false
}

// refuseLocation answers 403 for the locations what (quoted ids, or a
// phrase) that key k may not see.
func refuseLocation(w http.ResponseWriter, k apiKey, what string) {
	writeError(w, http.StatusForbidden, "location_refused",
		"this API key is limited to locations "+strings.Join(k.locationList(), ",")+": location "+what+" is refused")
}

// me is GET /v1/me: what the caller's key may do and see.
type me struct {
	Scopes []string `json:"scopes"`
	// AllLocations is true for a key that is not limited to locations;
	// otherwise Locations lists those it may see.
	AllLocations bool     `json:"allLocations"`
	Locations    []string `json:"locations"`
}

func (g *Gateway) me(w http.ResponseWriter, r *http.Request) {
	k := keyOfRequest(r)
	s := k.scopes
	if k.has(scopeAdmin) {
		s = scopeAll
	}
	out := me{Scopes: scopeNames(s), AllLocations: !k.limited(), Locations: k.locationList()}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	if out.Locations == nil {
		out.Locations = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}
