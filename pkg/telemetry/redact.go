package telemetry

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

// IsSecret reports whether an attribute, header or field called name should
// be treated as holding a secret: its lower-cased name, with '-' read as
// '_', contains token, secret, password, passwd, authorization, api_key,
// apikey, cookie, credential or private_key. "Authorization",
// "refresh_token", "X-Api-Key" and "clientSecret" are secrets.
func IsSecret(name string) bool {
	// Called for every attribute key logged: fold into a stack buffer
	// rather than allocate.
	var buf [64]byte
	n := buf[:0]
	if len(name) > len(buf) {
		n = make([]byte, 0, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '-':
			c = '_'
		}
		n = append(n, c)
	}
	// Substrings, so the match errs on the side of dropping: "token_count"
	// goes too.
	secretWords := [...]string{
		"token", "secret", "password", "passwd", "authorization", "api_key", "apikey",
		"cookie", "credential", "private_key",
	}
	for _, w := range secretWords {
		if bytes.Contains(n, []byte(w)) {
			return true
		}
	}
	return false
}

// Redact is a slog.HandlerOptions.ReplaceAttr function that keeps secrets
// out of log lines. It drops an attribute whose key, or any group it is in,
// IsSecret; removes secret-named entries from http.Header, map[string]string,
// map[string][]string and map[string]any values; and rewrites string and
// error values with RedactString. NewLogger installs it.
//
// It cannot see a secret stored under an innocent name in a struct or as a
// bare string; types that hold secrets implement slog.LogValuer. Used as
// ReplaceAttr without NewHandler, a group whose every member it drops makes
// log/slog (as of Go 1.26) mis-render the rest of the line; NewHandler
// removes such groups first.
func Redact(groups []string, a slog.Attr) slog.Attr {
	if IsSecret(a.Key) {
		return slog.Attr{}
	}
	for _, g := range groups {
		if IsSecret(g) {
			return slog.Attr{}
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); mayHoldSecret(s) {
			a.Value = slog.StringValue(RedactString(s))
		}
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			if s := v.Error(); mayHoldSecret(s) {
				if r := RedactString(s); r != s {
					a.Value = slog.StringValue(r)
				}
			}
		case http.Header:
			a.Value = slog.AnyValue(http.Header(withoutSecrets(v)))
		case map[string][]string:
			a.Value = slog.AnyValue(withoutSecrets(v))
		case map[string]string:
			a.Value = slog.AnyValue(withoutSecrets(v))
		case map[string]any:
			a.Value = slog.AnyValue(withoutSecrets(v))
		}
	}
	return a
}

// withoutSecrets returns m, or a copy of it without its secret-named keys.
func withoutSecrets[V any](m map[string]V) map[string]V {
	found := false
	for k := range m {
		if IsSecret(k) {
			found = true
			break
		}
	}
	if !found {
		return m
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		if !IsSecret(k) {
			out[k] = v
		}
	}
	return out
}

// removeSecrets returns attrs without the secret-named attributes and
// groups, looking inside groups (LogValuers resolved) and dropping groups
// left empty; it reports whether anything changed. The handler does this
// before the wrapped handler sees the attributes, because log/slog
// mis-renders a group whose every member ReplaceAttr deletes: it loses a
// comma in JSON and files the following attributes under the group.
func removeSecrets(attrs []slog.Attr) ([]slog.Attr, bool) {
	var out []slog.Attr // nil until something changes
	for i, a := range attrs {
		kept, changed := removeSecret(a)
		if changed && out == nil {
			out = make([]slog.Attr, 0, len(attrs))
			out = append(out, attrs[:i]...)
		}
		if out != nil && !isZero(kept) {
			out = append(out, kept)
		}
	}
	if out == nil {
		return attrs, false
	}
	return out, true
}

// removeSecret returns a, a copy of it without its secrets, or the zero
// Attr when nothing of it may be logged.
func removeSecret(a slog.Attr) (slog.Attr, bool) {
	if a.Key != "" && IsSecret(a.Key) {
		return slog.Attr{}, true
	}
	v := a.Value
	resolved := v.Kind() == slog.KindLogValuer
	if resolved {
		// Resolve once here so LogValue is not called a second time by the
		// wrapped handler.
		v = v.Resolve()
	}
	if v.Kind() != slog.KindGroup {
		return slog.Attr{Key: a.Key, Value: v}, resolved
	}
	members, changed := removeSecrets(v.Group())
	if len(members) == 0 {
		return slog.Attr{}, true
	}
	return slog.Attr{Key: a.Key, Value: slog.GroupValue(members...)}, changed || resolved
}

// isZero reports whether a is the zero Attr, the one handlers elide.
func isZero(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// mayNeedRemoval is the cheap first look: whether removeSecret could change a.
func mayNeedRemoval(a slog.Attr) bool {
	k := a.Value.Kind()
	return k == slog.KindGroup || k == slog.KindLogValuer || (a.Key != "" && IsSecret(a.Key))
}

// Secrets inside free text: a bearer credential, a secret-named query or
// form parameter, a secret-named JSON member. The names are kept, the
// values become REDACTED. Colon-separated prose ("refresh token: expired")
// is left alone: error chains are written that way.
var (
	bearerValue = regexp.MustCompile(`(?i)(bearer\s+)[a-z0-9\-._~+/]{8,}=*`)
	paramValue  = regexp.MustCompile(`(?i)([a-z0-9_\-]*(?:token|secret|password|passwd|api[_\-]?key)=)[^\s&"',;]+`)
	jsonValue   = regexp.MustCompile(`(?i)("[a-z0-9_\-]*(?:token|secret|password|passwd|api[_\-]?key|authorization)"\s*:\s*")[^"]*`)
)

// RedactString returns s with the values of bearer credentials
// ("Bearer abc…"), secret-named query or form parameters
// ("refresh_token=abc") and secret-named JSON members
// ("\"access_token\":\"abc\"") replaced by REDACTED. Use it on text that is
// about to leave the process: error strings in dead letters, span status
// descriptions.
func RedactString(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	s = bearerValue.ReplaceAllString(s, "${1}REDACTED")
	s = paramValue.ReplaceAllString(s, "${1}REDACTED")
	return jsonValue.ReplaceAllString(s, "${1}REDACTED")
}

// mayHoldSecret is a cheap filter that spares most strings the regular
// expressions.
func mayHoldSecret(s string) bool {
	return strings.ContainsAny(s, `="`) || strings.Contains(s, "earer") || strings.Contains(s, "EARER")
}
