package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ids"
)

const (
	// defaultSource names the source of SOCIALSYNC_WEBHOOK_SECRET, and of
	// a request that names none.
	defaultSource = "default"
	// minSecretLen is the shortest webhook secret accepted.
	minSecretLen = 16
	maxSourceLen = 64
)

// parseWebhookSecrets reads SOCIALSYNC_WEBHOOK_SECRET (the "default"
// source's) and SOCIALSYNC_WEBHOOK_SECRETS ("source:secret,..."). Errors
// name the variable and the source, never the secret.
func parseWebhookSecrets(single, list string) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	var errs []error
	add := func(variable, source, secret string) {
		switch {
		case !validSource(source):
			errs = append(errs, fmt.Errorf("%w: %s: source %q: want 1 to %d letters, digits, '-' or '_'", fleet.ErrConfig, variable, clip(source, maxSourceLen), maxSourceLen))
		case source == ids.APISource:
			// Its event ids would share the REST API's namespace.
			errs = append(errs, fmt.Errorf("%w: %s: source %q is the REST API's own: name the webhook source otherwise", fleet.ErrConfig, variable, source))
		case len(secret) < minSecretLen:
			errs = append(errs, fmt.Errorf("%w: %s: the secret of source %q is shorter than %d characters", fleet.ErrConfig, variable, source, minSecretLen))
		default:
			out[source] = append(out[source], []byte(secret))
		}
	}
	if single = strings.TrimSpace(single); single != "" {
		add("SOCIALSYNC_WEBHOOK_SECRET", defaultSource, single)
	}
	for i, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		source, secret, ok := strings.Cut(item, ":")
		if !ok {
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WEBHOOK_SECRETS: entry %d: want source:secret", fleet.ErrConfig, i+1))
			continue
		}
		add("SOCIALSYNC_WEBHOOK_SECRETS", strings.TrimSpace(source), strings.TrimSpace(secret))
	}
	return out, errors.Join(errs...)
}

// validSource reports whether s can name a webhook source.
func validSource(s string) bool { return ids.ValidSource(s) }

// parseKeyHashes reads SOCIALSYNC_API_KEY_HASHES. Entries are separated
// by ';' or white space (newlines included); an entry is
//
//	sha256hex                        every scope, every location (admin)
//	sha256hex,sha256hex,...          several such keys (the original form)
//	sha256hex:scope+scope            these scopes, every location
//	sha256hex:scope+scope:LOC1,LOC2  these scopes, only these locations
//
// An entry with a ':' is one key, and its commas separate locations; an
// entry without one is a comma-separated list of hashes. Scopes are read,
// trigger, definitions, deadletters and admin (all of them, for every
// location: it takes no location list). Errors name the variable and the
// entry's number (counting every hash), never a key.
func parseKeyHashes(list string) ([]apiKey, error) {
	var out []apiKey
	var errs []error
	n := 0
	seen := map[string]int{}
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_API_KEY_HASHES: entry %d: "+format, append([]any{fleet.ErrConfig, n}, args...)...))
	}
	for _, group := range strings.FieldsFunc(list, func(r rune) bool { return r == ';' || unicode.IsSpace(r) }) {
		items := []string{group}
		if !strings.Contains(group, ":") {
			items = strings.Split(group, ",")
		}
		for _, item := range items {
			if item == "" {
				continue
			}
			n++
			hash, rest, scoped := strings.Cut(item, ":")
			b, err := hex.DecodeString(strings.ToLower(hash))
			if err != nil || len(b) != sha256.Size {
				if scoped && strings.Contains(hash, ",") {
					bad("want 64 hex digits (sha256sum of the key) before ':'; separate entries with ';' when one has scopes or locations")
				} else {
					bad("want 64 hex digits (sha256sum of the key)")
				}
				continue
			}
			if first, dup := seen[string(b)]; dup {
				bad("the same key as entry %d", first)
				continue
			}
			seen[string(b)] = n
			k := apiKey{hash: b, scopes: scopeAll}
			if scoped {
				if k, err = parseKeyGrant(b, rest); err != nil {
					bad("%v", err)
					continue
				}
			}
			out = append(out, k)
		}
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_API_KEY_HASHES: is required: the hex SHA-256 of each API key (printf %%s \"$KEY\" | sha256sum)", fleet.ErrConfig))
	}
	return out, errors.Join(errs...)
}

// parseKeyGrant reads "scope+scope[:LOC1,LOC2]", what follows a key's
// hash.
func parseKeyGrant(hash []byte, grant string) (apiKey, error) {
	k := apiKey{hash: hash}
	scopes, locs, limited := strings.Cut(grant, ":")
	for _, name := range strings.Split(scopes, "+") {
		s, ok := scopeNamed(name)
		if !ok {
			// Only a word is quoted: a key pasted in the wrong place is not.
			what := quote(name)
			if len(name) > 16 || strings.ContainsFunc(name, func(r rune) bool { return r < 'a' || r > 'z' }) {
				what = fmt.Sprintf("of %d characters", len(name))
			}
			return k, fmt.Errorf("unknown scope %s: want %s joined by '+'", what, strings.Join(scopeNames(scopeAll), ", "))
		}
		k.scopes |= s
	}
	if k.scopes&scopeAdmin != 0 {
		k.scopes = scopeAll
	}
	if !limited {
		return k, nil
	}
	if k.scopes&scopeAdmin != 0 {
		return k, errors.New("the admin scope is for every location: drop the location list, or grant read+trigger+definitions+deadletters")
	}
	k.locations = map[string]bool{}
	for i, loc := range strings.Split(locs, ",") {
		if !ids.ValidHighLevel(loc) {
			return k, fmt.Errorf("location %d: want a HighLevel location id (1 to %d letters and digits)", i+1, ids.MaxHighLevelLen)
		}
		k.locations[loc] = true
	}
	return k, nil
}

// HashAPIKey returns the hex SHA-256 of key, as SOCIALSYNC_API_KEY_HASHES
// lists it.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// keyOf returns the configured key whose digest is key's, and whether
// there is one. It compares with every digest in constant time, whatever
// matches.
func (g *Gateway) keyOf(key string) (apiKey, bool) {
	sum := sha256.Sum256([]byte(key))
	found := -1
	for i, k := range g.keys {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], k.hash), i, found)
	}
	if found < 0 || key == "" {
		return apiKey{}, false
	}
	return g.keys[found], true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
