package bus

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// redacted replaces a credential in text the bus writes out.
const redacted = "[REDACTED]"

// Patterns of credentials that may hide in an error string. Errors from
// pkg/ghl carry no token by construction; these are the second line of
// defence for errors from everywhere else, applied to every error text the
// bus writes to a log line, a span or a dead-letter header.
var (
	// "Bearer abc", "Basic abc".
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*`)
	// A JSON Web Token: three base64url segments, the first a JSON object.
	jwtToken = regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// A HighLevel private integration token.
	pitToken = regexp.MustCompile(`(?i)\bpit-[0-9a-f-]{8,}`)
	// The value of a key that names a credential: token=…, "refresh_token":"…",
	// client_secret: …, password=….
	secretPair = regexp.MustCompile(`(?i)((?:access|refresh|id|bearer|api|auth)?[_-]?(?:token|secret|password|passwd|apikey|api[_-]key|authorization)["']?\s*[:=]\s*["']?)[^\s"'&,;}\]]+`)
)

// redact removes what looks like a credential from s.
func redact(s string) string {
	if !mayHoldCredential(s) {
		return s
	}
	s = authScheme.ReplaceAllString(s, "$1 "+redacted)
	s = jwtToken.ReplaceAllString(s, redacted)
	s = pitToken.ReplaceAllString(s, redacted)
	return secretPair.ReplaceAllString(s, "${1}"+redacted)
}

// credentialHints are substrings, in lower case, one of which every pattern
// above needs to match ("eyj" for a JWT's "eyJ").
var credentialHints = []string{"bearer", "basic", "eyj", "pit-", "token", "secret", "passw", "apikey", "api_key", "api-key", "authorization"}

// mayHoldCredential is redact's fast path: most texts (message ids,
// ordinary errors) hold none of the hints, and then no pattern can match.
func mayHoldCredential(s string) bool {
	lower := strings.ToLower(s)
	for _, h := range credentialHints {
		if strings.Contains(lower, h) {
			return true
		}
	}
	return false
}

// headerValue makes s safe for a NATS header value: credentials redacted,
// control characters (a CR or LF would end the header) turned to spaces,
// and at most n bytes of valid UTF-8.
func headerValue(s string, n int) string {
	s = redact(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// sensitiveHeader reports whether a header name may carry a credential, so
// that its value is never copied into a dead letter.
func sensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, w := range [...]string{"token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "signature", "credential"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
