package ghlsim

import (
	"net/http"
	"strings"
	"time"
)

// scope is a set of HighLevel OAuth scopes the simulator checks, as bits.
type scope uint32

const (
	scopeTagRead scope = 1 << iota
	scopeAccountRead
	scopeStatisticsRead
	scopePostRead
	scopeContactsRead
	scopeContactsWrite
	scopeLocationTagsRead
	scopeLocationTagsWrite
	scopeCustomValuesRead
	scopeCustomValuesWrite
	scopeOAuthRead
	scopeOAuthWrite
	scopeCustomFieldsRead
	scopeLocationsRead

	// scopeAllLocation is what a sub-account Private Integration Token carries.
	scopeAllLocation = scopeTagRead | scopeAccountRead | scopeStatisticsRead | scopePostRead |
		scopeContactsRead | scopeContactsWrite | scopeLocationTagsRead | scopeLocationTagsWrite |
		scopeCustomValuesRead | scopeCustomValuesWrite | scopeCustomFieldsRead | scopeLocationsRead
	// scopeAll is what an app gets when it asks for no scope in particular.
	scopeAll = scopeAllLocation | scopeOAuthRead | scopeOAuthWrite
)

// scopeByName maps a HighLevel scope name to its bit; other valid scope
// names (conversations, calendars…) are carried in tokens but check nothing.
func scopeByName(name string) scope {
	switch name {
	case "socialplanner/tag.readonly":
		return scopeTagRead
	case "socialplanner/account.readonly":
		return scopeAccountRead
	case "socialplanner/statistics.readonly":
		return scopeStatisticsRead
	case "socialplanner/post.readonly":
		return scopePostRead
	case "contacts.readonly":
		return scopeContactsRead
	case "contacts.write":
		return scopeContactsWrite
	case "locations/tags.readonly":
		return scopeLocationTagsRead
	case "locations/tags.write":
		return scopeLocationTagsWrite
	case "locations/customValues.readonly":
		return scopeCustomValuesRead
	case "locations/customValues.write":
		return scopeCustomValuesWrite
	case "locations/customFields.readonly":
		return scopeCustomFieldsRead
	case "locations.readonly":
		return scopeLocationsRead
	case "oauth.readonly":
		return scopeOAuthRead
	case "oauth.write":
		return scopeOAuthWrite
	}
	return 0
}

// scopeNames lists the names of the bits in s, in a fixed order.
func scopeNames(s scope) []string {
	all := []string{
		"socialplanner/tag.readonly", "socialplanner/account.readonly", "socialplanner/statistics.readonly",
		"socialplanner/post.readonly", "contacts.readonly", "contacts.write", "locations/tags.readonly",
		"locations/tags.write", "locations/customValues.readonly", "locations/customValues.write",
		"oauth.readonly", "oauth.write", "locations/customFields.readonly", "locations.readonly",
	}
	var out []string
	for _, n := range all {
		if s&scopeByName(n) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// validScopeName reports whether name is shaped like a HighLevel scope.
func validScopeName(name string) bool {
	if name == "" || len(name) > 100 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '/' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// grantKind is what a bearer token stands for.
type grantKind int

const (
	grantPIT      grantKind = iota // a sub-account Private Integration Token
	grantLocation                  // an OAuth access token of user type Location
	grantCompany                   // an OAuth access token of user type Company
)

// grant is what the simulator knows about a bearer token. It is never
// modified once stored.
type grant struct {
	kind       grantKind
	locationID string
	companyID  string
	clientID   string
	userID     string
	scopes     scope
	scopeText  string
	expiresAt  time.Time // zero: never expires (PITs)
}

// Supported values of the Version header: the one the OpenAPI files
// declare, and the Node SDK's default, which HighLevel also accepts.
const (
	apiVersion    = "2021-07-28"
	apiVersionSDK = "2023-02-21"
)

// access is how an endpoint ties a request to a location.
type access int

const (
	// accessPath: the path's {locationId} must be the token's location.
	accessPath access = iota
	// accessHandler: a location token; the handler finds and checks the
	// location (query parameter, body field or contact).
	accessHandler
	// accessCompany: a Company token.
	accessCompany
)

// call is an authenticated request as handlers see it.
type call struct {
	grant *grant
	loc   *location // the token's location; nil for Company tokens
}

// allows reports whether the call's token may act on locationID; if not,
// it answers 403 and returns false.
func (c *call) allows(w http.ResponseWriter, locationID string) bool {
	if c.loc == nil || c.loc.id != locationID {
		writeForbidden(w, msgNoLocation)
		return false
	}
	return true
}

// handlerFunc is an endpoint behind authentication.
type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call)

// api wraps h with what every HighLevel endpoint does before its own work,
// in this order: bearer token (401 Invalid JWT), the location's rate limit
// (429; every later answer carries X-RateLimit-* headers), the Version
// header (400), the token kind and scope (401), and for accessPath the
// path's location (403).
func (s *Simulator) api(need scope, acc access, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := s.authenticate(r)
		if g == nil {
			writeInvalidJWT(w)
			return
		}
		c := &call{grant: g}
		if g.kind != grantCompany {
			c.loc = s.location(g.locationID)
			if c.loc == nil {
				writeInvalidJWT(w) // the location is gone: the token is void
				return
			}
			if rec, ok := w.(*recorder); ok {
				rec.location = c.loc.id
			}
			d := c.loc.limiter.take(s.now(), s.config.Load())
			d.setHeaders(w.Header())
			if !d.allowed {
				writeTooManyRequests(w, d.retryAfterSeconds())
				return
			}
		}
		if !checkVersion(w, r) {
			return
		}
		switch {
		case acc == accessCompany && g.kind != grantCompany:
			writeScopeDenied(w)
			return
		case acc != accessCompany && g.kind == grantCompany:
			writeForbidden(w, msgNoLocation)
			return
		case g.scopes&need != need:
			writeScopeDenied(w)
			return
		case acc == accessPath && !c.allows(w, r.PathValue("locationId")):
			return
		}
		h(w, r, c)
	})
}

// authenticate returns the grant of the request's bearer token, or nil when
// it is missing, unknown or expired.
func (s *Simulator) authenticate(r *http.Request) *grant {
	auth := r.Header.Get("Authorization")
	if len(auth) < 8 || !strings.EqualFold(auth[:7], "Bearer ") {
		return nil
	}
	v, ok := s.tokens.Load(strings.TrimSpace(auth[7:]))
	if !ok {
		return nil
	}
	g := v.(*grant)
	if !g.expiresAt.IsZero() && !s.now().Before(g.expiresAt) {
		return nil
	}
	return g
}

// checkVersion answers 400 and returns false unless the Version header is
// one HighLevel accepts for the v2 API.
func checkVersion(w http.ResponseWriter, r *http.Request) bool {
	v := r.Header.Get("Version")
	switch v {
	case apiVersion, apiVersionSDK:
		return true
	case "":
		writeBadRequest(w, "The Version header is required: send Version: "+apiVersion+" (or "+apiVersionSDK+")")
	default:
		writeBadRequest(w, "Version "+quote(v)+" is not supported by this endpoint: send Version: "+apiVersion+" (or "+apiVersionSDK+")")
	}
	return false
}

// quote quotes s for an error message, bounded in length.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `'`) + `"`
}
