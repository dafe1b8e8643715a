package gateway

import (
	"encoding/hex"
	"strings"
)

// RouteScopes returns what each route asks of its caller: the scope an
// API key needs ("any" for any valid key), "signature" for the signed
// webhook, "public" for the routes that take no credential.
func RouteScopes() map[string]string {
	out := map[string]string{"POST /v1/webhooks/posts": "signature", "POST /v1/highlevel/webhooks": "signature", "GET /v1/openapi.yaml": "public"}
	for _, rt := range (*Gateway)(nil).apiRoutes() {
		out[rt.pattern] = "any"
		if rt.scope != scopeAny {
			out[rt.pattern] = strings.Join(scopeNames(rt.scope), "+")
		}
	}
	return out
}

// ParseKeyHashes parses SOCIALSYNC_API_KEY_HASHES as New does and returns
// each key's scope names and locations (nil: every location), by hash.
func ParseKeyHashes(list string) (map[string]string, error) {
	keys, err := parseKeyHashes(list)
	out := map[string]string{}
	for _, k := range keys {
		out[hex.EncodeToString(k.hash)] = strings.Join(scopeNames(k.scopes), "+") + ":" + strings.Join(k.locationList(), ",")
	}
	return out, err
}
