package telemetry_test

import (
	"testing"

	"github.com/socialsync/socialsync/pkg/telemetry"
)

func TestIsSecret(t *testing.T) {
	tests := map[string]bool{
		"token":            true,
		"Token":            true,
		"access_token":     true,
		"refresh_token":    true,
		"accessToken":      true,
		"secret":           true,
		"client_secret":    true,
		"Authorization":    true,
		"password":         true,
		"PASSWD":           true,
		"api_key":          true,
		"API-KEY":          true,
		"X-Api-Key":        true,
		"apikey":           true,
		"Cookie":           true,
		"credentials":      true,
		"private_key":      true,
		"location":         false,
		"subject":          false,
		"seq":              false,
		"attempt":          false,
		"err":              false,
		"msg":              false,
		"trace_id":         false,
		"key":              false,
		"Version":          false,
		"X-RateLimit-Max":  false,
		"contact_id":       false,
		"content_type":     false,
		"idempotency_hint": false,
	}
	for name, want := range tests {
		if got := telemetry.IsSecret(name); got != want {
			t.Errorf("IsSecret(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRedactString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"call ghl: status 500", "call ghl: status 500"},
		{"refresh token: invalid_grant", "refresh token: invalid_grant"},
		{"missing bearer token", "missing bearer token"},
		{"Authorization: Bearer eyJhbGciOi.abc-def_ghi", "Authorization: Bearer REDACTED"},
		{"bearer abcdefgh12345678==", "bearer REDACTED"},
		{`Post "https://x.test/oauth/token?code=1&refresh_token=rt-123&client_secret=cs-9": EOF`,
			`Post "https://x.test/oauth/token?code=1&refresh_token=REDACTED&client_secret=REDACTED": EOF`},
		{"grant_type=refresh_token&refresh_token=abc", "grant_type=refresh_token&refresh_token=REDACTED"},
		{`{"access_token":"abc","token_type":"Bearer","expires_in":86399}`, `{"access_token":"REDACTED","token_type":"Bearer","expires_in":86399}`},
		{`{"apiKey" : "k-1"}`, `{"apiKey" : "REDACTED"}`},
		{"location=loc1&limit=100", "location=loc1&limit=100"},
	}
	for _, tt := range tests {
		if got := telemetry.RedactString(tt.in); got != tt.want {
			t.Errorf("RedactString(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}
