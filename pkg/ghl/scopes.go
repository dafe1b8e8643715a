package ghl

import (
	"slices"
	"strings"
)

// EndpointScope is the OAuth scope one endpoint the client calls needs.
type EndpointScope struct {
	// Method and Path name the endpoint; Path is the route template as
	// the OpenAPI files spell it.
	Method, Path string
	// Scope is the scope HighLevel checks.
	Scope string
	// Agency marks an endpoint called with an agency (Company) token.
	Agency bool
	// Source says where the scope is documented when the official OpenAPI
	// files' security block names none for the operation; empty when they
	// name it.
	Source string
}

// Where scopes come from when the OpenAPI files name none.
const (
	sourceScopesPage = "HighLevel's Scopes page (docs/oauth/Scopes.md)"
	sourceAssumed    = "not documented: assumed like the per-contact tag calls"
	sourceTagWrites  = "not in its security block: assumed like POST /locations/{locationId}/tags, as HighLevel's tag reference lists it"
)

// endpointScopes is the one table of endpoint → scope: every endpoint the
// client calls with a bearer token. `socialsync connect` asks for the
// scopes it names; a test checks it against the OpenAPI files and against
// the routes this package calls.
var endpointScopes = []EndpointScope{
	{Method: "GET", Path: "/social-media-posting/{locationId}/tags", Scope: "socialplanner/tag.readonly", Source: sourceScopesPage},
	{Method: "POST", Path: "/social-media-posting/{locationId}/tags/details", Scope: "socialplanner/tag.readonly", Source: sourceScopesPage},
	{Method: "GET", Path: "/social-media-posting/{locationId}/accounts", Scope: "socialplanner/account.readonly"},
	{Method: "POST", Path: "/social-media-posting/statistics", Scope: "socialplanner/statistics.readonly"},
	{Method: "POST", Path: "/social-media-posting/{locationId}/posts/list", Scope: "socialplanner/post.readonly"},
	{Method: "GET", Path: "/social-media-posting/{locationId}/posts/{id}", Scope: "socialplanner/post.readonly", Source: sourceScopesPage},
	{Method: "POST", Path: "/contacts/search", Scope: "contacts.readonly"},
	{Method: "GET", Path: "/contacts/search/duplicate", Scope: "contacts.readonly"},
	{Method: "POST", Path: "/contacts/upsert", Scope: "contacts.write"},
	{Method: "POST", Path: "/contacts/{contactId}/tags", Scope: "contacts.write"},
	{Method: "DELETE", Path: "/contacts/{contactId}/tags", Scope: "contacts.write"},
	{Method: "POST", Path: "/contacts/bulk/tags/update/{type}", Scope: "contacts.write", Source: sourceAssumed},
	{Method: "PUT", Path: "/contacts/{contactId}", Scope: "contacts.write"},
	{Method: "GET", Path: "/locations/{locationId}/tags", Scope: "locations/tags.readonly"},
	{Method: "POST", Path: "/locations/{locationId}/tags", Scope: "locations/tags.write"},
	{Method: "DELETE", Path: "/locations/{locationId}/tags/{tagId}", Scope: "locations/tags.write", Source: sourceTagWrites},
	{Method: "GET", Path: "/locations/{locationId}/customValues", Scope: "locations/customValues.readonly"},
	{Method: "POST", Path: "/locations/{locationId}/customValues", Scope: "locations/customValues.write"},
	{Method: "PUT", Path: "/locations/{locationId}/customValues/{id}", Scope: "locations/customValues.write", Source: sourceScopesPage},
	{Method: "DELETE", Path: "/locations/{locationId}/customValues/{id}", Scope: "locations/customValues.write", Source: sourceScopesPage},
	{Method: "GET", Path: "/locations/{locationId}/customFields", Scope: "locations/customFields.readonly"},
	{Method: "GET", Path: "/locations/{locationId}", Scope: "locations.readonly"},
	{Method: "POST", Path: "/oauth/locationToken", Scope: "oauth.write", Agency: true},
	{Method: "GET", Path: "/oauth/installedLocations", Scope: "oauth.readonly", Agency: true},
}

// EndpointScopes returns the table of endpoint → scope.
func EndpointScopes() []EndpointScope { return slices.Clone(endpointScopes) }

// ScopeFor returns the scope the endpoint (method and route template)
// needs.
func ScopeFor(method, path string) (string, bool) {
	for _, e := range endpointScopes {
		if e.Method == method && e.Path == path {
			return e.Scope, true
		}
	}
	return "", false
}

// LocationScopes returns, sorted, the scopes a location token needs for
// every endpoint the client calls for a location: what `socialsync
// connect` asks for.
func LocationScopes() []string { return scopes(false) }

// AgencyScopes returns, sorted, the scopes an agency token needs beyond
// LocationScopes to hand out location tokens.
func AgencyScopes() []string { return scopes(true) }

// ConnectScopes returns the scopes an authorization asks for:
// LocationScopes, and for an agency (UserTypeCompany) AgencyScopes too.
func ConnectScopes(userType string) []string {
	if userType == UserTypeCompany {
		return append(LocationScopes(), AgencyScopes()...)
	}
	return LocationScopes()
}

func scopes(agency bool) []string {
	var out []string
	for _, e := range endpointScopes {
		if e.Agency == agency && !slices.Contains(out, e.Scope) {
			out = append(out, e.Scope)
		}
	}
	slices.Sort(out)
	return out
}

// ScopeError is a 401 HighLevel answered because the token was not granted
// the endpoint's scope. Refreshing the token cannot help (a refreshed token
// carries the same scopes), so the client does not try; a caller whose
// call is optional should turn the feature off for the location rather
// than ask for re-authorisation. It unwraps to the *Error (KindAuth).
type ScopeError struct {
	// Scope is the scope the endpoint needs (from the table), "" when the
	// endpoint is not in it.
	Scope string
	Err   *Error
}

// Error names the endpoint, HighLevel's answer and the missing scope.
func (e *ScopeError) Error() string {
	if e.Scope == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (missing scope " + e.Scope + ")"
}

// Unwrap returns the *Error.
func (e *ScopeError) Unwrap() error { return e.Err }

// MissingScope returns the scope the token lacks.
func (e *ScopeError) MissingScope() string { return e.Scope }

// scopeDenied reports whether e is HighLevel's answer to a token that
// lacks the endpoint's scope: 401 {"statusCode":401,"message":"The token
// is not authorized for this scope."} (the only shape reported; a 401
// "Invalid JWT" is about the token itself).
func scopeDenied(e *Error) bool {
	if e.StatusCode != 401 {
		return false
	}
	for _, m := range e.Messages {
		if strings.Contains(strings.ToLower(m), "not authorized for this scope") {
			return true
		}
	}
	return false
}
