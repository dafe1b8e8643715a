package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

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

// parseKeyHashes reads SOCIALSYNC_API_KEY_HASHES: hex SHA-256 digests.
func parseKeyHashes(list string) ([][]byte, error) {
	var out [][]byte
	var errs []error
	for i, item := range strings.Split(list, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		if item == "" {
			continue
		}
		b, err := hex.DecodeString(item)
		if err != nil || len(b) != sha256.Size {
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_API_KEY_HASHES: entry %d: want 64 hex digits (sha256sum of the key)", fleet.ErrConfig, i+1))
			continue
		}
		out = append(out, b)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_API_KEY_HASHES: is required: the hex SHA-256 of each API key (printf %%s \"$KEY\" | sha256sum)", fleet.ErrConfig))
	}
	return out, errors.Join(errs...)
}

// HashAPIKey returns the hex SHA-256 of key, as SOCIALSYNC_API_KEY_HASHES
// lists it.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// validKey reports whether key's digest is one of the configured ones. It
// compares with every digest in constant time, whatever matches.
func (g *Gateway) validKey(key string) bool {
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for _, h := range g.keys {
		ok |= subtle.ConstantTimeCompare(sum[:], h)
	}
	return ok == 1 && key != ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
