package ids

import (
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxHighLevelLen bounds a HighLevel id. HighLevel's location and
	// contact ids are 20 characters, tag, post and profile ids 24 hex
	// digits.
	MaxHighLevelLen = 64
	// MaxExternalLen bounds an external id, in bytes.
	MaxExternalLen = 256
	// MaxSourceLen bounds a source name.
	MaxSourceLen = 64

	// DefaultSource is the source of a message that names none: its post
	// id is a HighLevel Social Planner post id. The posts poller sends it.
	DefaultSource = "highlevel"
)

// The rules, as errors state them after "want".
const (
	ruleHighLevel = "a HighLevel id: 1 to 64 ASCII letters and digits"
	ruleExternal  = "1 to 256 bytes of UTF-8 without control characters"
	ruleSource    = "a source name: 1 to 64 ASCII letters, digits, '-' and '_'"
	ruleKey       = "a key made by ids.Key"
)

// ValidHighLevel reports whether id can be a HighLevel location, contact
// or tag id: 1 to MaxHighLevelLen ASCII letters and digits. Such an id is
// safe in a URL path, a subject token and a key-value key.
func ValidHighLevel(id string) bool {
	if id == "" || len(id) > MaxHighLevelLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// ValidExternal reports whether id can be an id from another system (a
// post's id in the sending system, an event id): valid UTF-8 of 1 to
// MaxExternalLen bytes without control characters (C0, DEL and C1).
func ValidExternal(id string) bool {
	if id == "" || len(id) > MaxExternalLen || !utf8.ValidString(id) {
		return false
	}
	return !strings.ContainsFunc(id, unicode.IsControl)
}

// ValidSource reports whether name can be a source: 1 to MaxSourceLen
// ASCII letters, digits, '-' and '_'.
func ValidSource(name string) bool {
	if name == "" || len(name) > MaxSourceLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Source returns source, or DefaultSource when it is empty.
func Source(source string) string {
	if source == "" {
		return DefaultSource
	}
	return source
}

// CheckHighLevel fails with an *Error naming field unless id is a
// HighLevel id (see ValidHighLevel).
func CheckHighLevel(field, id string) error {
	if !ValidHighLevel(id) {
		return newError(field, ruleHighLevel, id)
	}
	return nil
}

// CheckExternal fails with an *Error naming field unless id is an
// external id (see ValidExternal).
func CheckExternal(field, id string) error {
	if !ValidExternal(id) {
		return newError(field, ruleExternal, id)
	}
	return nil
}

// CheckSource fails with an *Error naming field unless name is a source
// (see ValidSource).
func CheckSource(field, name string) error {
	if !ValidSource(name) {
		return newError(field, ruleSource, name)
	}
	return nil
}

// keySep separates the source from the encoded id in a key: neither a
// source nor unpadded base64url holds it, and key-value keys allow it.
const keySep = "/"

// Key returns the fixed encoding of (source, id) that stands for an
// external id in a key-value key or a subject token:
// "<source>/<unpadded base64url of id>", e.g. Key("crm", "crm-post-1") is
// "crm/Y3JtLXBvc3QtMQ". An empty source is DefaultSource. It is one
// subject token of at most 64+1+342 bytes, made of letters, digits, '-',
// '_' and '/'. It fails with an *Error for an invalid source or id.
func Key(source, id string) (string, error) {
	source = Source(source)
	if err := CheckSource("source", source); err != nil {
		return "", err
	}
	if err := CheckExternal("id", id); err != nil {
		return "", err
	}
	return source + keySep + base64.RawURLEncoding.EncodeToString([]byte(id)), nil
}

// ParseKey returns the source and the id that Key encoded into key. It
// fails with an *Error for anything Key cannot have made.
func ParseKey(key string) (source, id string, err error) {
	source, enc, ok := strings.Cut(key, keySep)
	if !ok || !ValidSource(source) {
		return "", "", newError("key", ruleKey, key)
	}
	b, derr := base64.RawURLEncoding.DecodeString(enc)
	if derr != nil || !ValidExternal(string(b)) {
		return "", "", newError("key", ruleKey, key)
	}
	return source, string(b), nil
}
