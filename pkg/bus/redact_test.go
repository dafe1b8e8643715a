package bus

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsb2MxIn0.c2lnbmF0dXJlLXNpZw"
	tests := []struct {
		in, secret string
	}{
		{"GET /tags: Authorization: Bearer abc.DEF-123_x", "abc.DEF-123_x"},
		{"token expired: " + jwt, jwt},
		{"pit-0b6e7a4e-1f2a-4c3d-9e8f-0a1b2c3d4e5f rejected", "0b6e7a4e-1f2a-4c3d-9e8f-0a1b2c3d4e5f"},
		{`body {"access_token":"s3cr3tvalue","expires_in":3600}`, "s3cr3tvalue"},
		{"refresh_token=r3fr3sh&client_secret=cl13nt", "r3fr3sh"},
		{"refresh_token=r3fr3sh&client_secret=cl13nt", "cl13nt"},
		{"password: hunter22", "hunter22"},
		{"x-api-key=k3yk3y", "k3yk3y"},
	}
	for _, tt := range tests {
		got := redact(tt.in)
		if strings.Contains(got, tt.secret) {
			t.Errorf("redact(%q) = %q still holds %q", tt.in, got, tt.secret)
		}
		if !strings.Contains(got, redacted) {
			t.Errorf("redact(%q) = %q has no %s", tt.in, got, redacted)
		}
	}
	for _, keep := range []string{
		"ghl: POST /contacts/{contactId}/tags: 422 Unprocessable Entity: tags must be an array (trace 1234)",
		"bus: undecodable message: socialsync.v1.PostEvent as application/protobuf: proto: cannot parse invalid wire-format data",
		"publish socialsync.event.tag.loc1: nats: timeout",
	} {
		if got := redact(keep); got != keep {
			t.Errorf("redact(%q) = %q, want it unchanged", keep, got)
		}
	}
}

func TestHeaderValue(t *testing.T) {
	t.Parallel()
	got := headerValue("line one\r\nNats-Rollup: all\ttab", 1024)
	if strings.ContainsAny(got, "\r\n\t") {
		t.Errorf("headerValue kept control characters: %q", got)
	}
	long := strings.Repeat("é", 100)
	if got := headerValue(long, 51); len(got) > 51 || !strings.HasPrefix(long, got) {
		t.Errorf("headerValue cut %q badly: %q", long, got)
	}
}

func TestSensitiveHeader(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"Authorization": true, "authorization": true, "X-Api-Key": true, "X-Refresh-Token": true,
		"Cookie": true, "X-Webhook-Signature": true, "traceparent": false, "Content-Type": false, "X-Source": false,
	} {
		if got := sensitiveHeader(name); got != want {
			t.Errorf("sensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
}
