package gateway

import (
	"strings"
	"testing"
)

// A contact's email, phone and names are redacted, and its "name"; a
// tag's name, or an account's, is kept; a body that is not JSON loses
// its email addresses.
func TestRedactPersonal(t *testing.T) {
	raw := `{"contacts":[{"id":"c1","name":"Ann Lee","firstName":"Ann","lastName":"Lee","email":"ann@example.com","phone":"+15550100","tags":["vip"]}],` +
		`"tags":[{"id":"t1","name":"summer"}]}`
	got := redactPersonal(raw)
	for _, leak := range []string{"Ann", "Lee", "ann@example.com", "+15550100"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q kept: %s", leak, got)
		}
	}
	for _, kept := range []string{`"summer"`, `"c1"`, `"vip"`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s lost: %s", kept, got)
		}
	}
	if got := redactPersonal("not json: write to ann@example.com"); strings.Contains(got, "ann@") {
		t.Errorf("plain text: %s", got)
	}
}
