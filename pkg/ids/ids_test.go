package ids_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ids"
)

func TestValid(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		in                          string
		highLevel, external, source bool
	}{
		{in: "", highLevel: false, external: false, source: false},
		{in: "abcDEF0123456789abcdef01", highLevel: true, external: true, source: true},
		{in: strings.Repeat("a", 64), highLevel: true, external: true, source: true},
		{in: strings.Repeat("a", 65), highLevel: false, external: true, source: false},
		{in: "crm-post-1", highLevel: false, external: true, source: true},
		{in: "highlevel", highLevel: true, external: true, source: true},
		{in: "Bestellung-ä/42", highLevel: false, external: true, source: false},
		{in: "order 42", highLevel: false, external: true, source: false},
		{in: "投稿-7", highLevel: false, external: true, source: false},
		{in: long, highLevel: false, external: true, source: false},
		{in: long + "a", highLevel: false, external: false, source: false},
		{in: strings.Repeat("ä", 128), highLevel: false, external: true, source: false},
		{in: strings.Repeat("ä", 128) + "a", highLevel: false, external: false, source: false},
		{in: "a\nb", highLevel: false, external: false, source: false},
		{in: "a\tb", highLevel: false, external: false, source: false},
		{in: "a\x00b", highLevel: false, external: false, source: false},
		{in: "a\x7fb", highLevel: false, external: false, source: false},
		{in: "a\u0085b", highLevel: false, external: false, source: false},
		{in: "a\xffb", highLevel: false, external: false, source: false},
		{in: "a.b", highLevel: false, external: true, source: false},
		{in: "a*b>", highLevel: false, external: true, source: false},
		{in: "with_under-score", highLevel: false, external: true, source: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ids.ValidHighLevel(tt.in); got != tt.highLevel {
				t.Errorf("ValidHighLevel = %v, want %v", got, tt.highLevel)
			}
			if got := ids.ValidExternal(tt.in); got != tt.external {
				t.Errorf("ValidExternal = %v, want %v", got, tt.external)
			}
			if got := ids.ValidSource(tt.in); got != tt.source {
				t.Errorf("ValidSource = %v, want %v", got, tt.source)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *ids.Error
		text string
	}{
		{name: "external ok", err: ids.CheckExternal("post_id", "crm-post-1")},
		{name: "highlevel ok", err: ids.CheckHighLevel("tag_ids[0]", "abc123")},
		{name: "source ok", err: ids.CheckSource("source", "highlevel")},
		{
			name: "newline", err: ids.CheckExternal("post_id", "a\nb"),
			want: &ids.Error{Field: "post_id", Rule: "1 to 256 bytes of UTF-8 without control characters", Value: "a\nb"},
			text: `post_id "a\nb": want 1 to 256 bytes of UTF-8 without control characters`,
		},
		{
			name: "too long is clipped", err: ids.CheckExternal("event_id", strings.Repeat("x", 300)),
			want: &ids.Error{Field: "event_id", Rule: "1 to 256 bytes of UTF-8 without control characters", Value: strings.Repeat("x", 64) + "…"},
		},
		{
			name: "clip keeps characters whole", err: ids.CheckExternal("post_id", "a"+strings.Repeat("ä", 200)),
			want: &ids.Error{Field: "post_id", Rule: "1 to 256 bytes of UTF-8 without control characters", Value: "a" + strings.Repeat("ä", 31) + "…"},
		},
		{
			name: "highlevel", err: ids.CheckHighLevel("contact_ids[1]", "crm-contact"),
			want: &ids.Error{Field: "contact_ids[1]", Rule: "a HighLevel id: 1 to 64 ASCII letters and digits", Value: "crm-contact"},
			text: `contact_ids[1] "crm-contact": want a HighLevel id: 1 to 64 ASCII letters and digits`,
		},
		{
			name: "source", err: ids.CheckSource("source", "crm system"),
			want: &ids.Error{Field: "source", Rule: "a source name: 1 to 64 ASCII letters, digits, '-' and '_'", Value: "crm system"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				if tt.err != nil {
					t.Fatalf("err = %v, want nil", tt.err)
				}
				return
			}
			var e *ids.Error
			if !errors.As(tt.err, &e) {
				t.Fatalf("err = %v, want an *ids.Error", tt.err)
			}
			if diff := cmp.Diff(tt.want, e); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tt.text != "" && e.Error() != tt.text {
				t.Errorf("Error() = %s, want %s", e.Error(), tt.text)
			}
			if !e.BadInput() || !e.Permanent() {
				t.Error("an *ids.Error must report BadInput and Permanent")
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		source, id, want string
	}{
		{source: "crm", id: "crm-post-1", want: "crm/Y3JtLXBvc3QtMQ"},
		{source: "", id: "abc", want: "highlevel/YWJj"},
		{source: "highlevel", id: "abc", want: "highlevel/YWJj"},
		{source: "shop", id: "Bestellung-ä/42", want: "shop/QmVzdGVsbHVuZy3DpC80Mg"},
		{source: "x", id: "a.b*>", want: "x/YS5iKj4"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := ids.Key(tt.source, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Key = %q, want %q", got, tt.want)
			}
			for _, c := range got {
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '/') {
					t.Errorf("Key %q holds %q, which is not letters, digits, '-', '_' or '/'", got, c)
				}
			}
			src, id, err := ids.ParseKey(got)
			if err != nil {
				t.Fatal(err)
			}
			if src != ids.Source(tt.source) || id != tt.id {
				t.Errorf("ParseKey = %q, %q, want %q, %q", src, id, ids.Source(tt.source), tt.id)
			}
		})
	}
	long, err := ids.Key(strings.Repeat("s", 64), strings.Repeat("ä", 128))
	if err != nil {
		t.Fatal(err)
	}
	if len(long) > 64+1+342 {
		t.Errorf("longest key is %d bytes, want at most %d", len(long), 64+1+342)
	}
	for _, bad := range [][2]string{{"crm", ""}, {"crm", "a\nb"}, {"crm", strings.Repeat("a", 257)}, {"a.b", "x"}, {"a/b", "x"}} {
		if k, err := ids.Key(bad[0], bad[1]); err == nil {
			t.Errorf("Key(%q, %q) = %q, want an error", bad[0], bad[1], k)
		}
	}
	for _, bad := range []string{"", "crm", "crm/", "crm/!!", "a.b/YWJj", "crm/Cg"} {
		if _, _, err := ids.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) succeeded, want an error", bad)
		}
	}
}

func TestCheckOccurredAt(t *testing.T) {
	now := time.Date(2031, time.March, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{name: "unset", at: time.Time{}, ok: true},
		{name: "now", at: now, ok: true},
		{name: "5m ahead", at: now.Add(5 * time.Minute), ok: true},
		{name: "5m1s ahead", at: now.Add(5*time.Minute + time.Second), ok: false},
		{name: "year 9999", at: time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC), ok: false},
		{name: "400 days behind", at: now.Add(-400 * 24 * time.Hour), ok: true},
		{name: "400 days 1s behind", at: now.Add(-400*24*time.Hour - time.Second), ok: false},
		{name: "epoch", at: time.Unix(0, 0), ok: false},
		{name: "other zone", at: now.In(time.FixedZone("x", 14*3600)), ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ids.CheckOccurredAt("occurred_at", tt.at, now)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckOccurredAt = %v, want ok=%v", err, tt.ok)
			}
			var e *ids.Error
			if err != nil && (!errors.As(err, &e) || e.Field != "occurred_at" || !strings.Contains(e.Rule, "receiving clock")) {
				t.Errorf("err = %#v, want an *ids.Error for occurred_at about the receiving clock", err)
			}
		})
	}
}

// TestValidLocationID checks the rule a location id follows before it
// reaches a subject, a URL path or a key.
func TestValidLocationID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"ve9EPM428h8vShlRW1KT", true},
		{"a", true},
		{"0123456789", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"loc.1", false},
		{"loc*", false},
		{"loc>", false},
		{"loc 1", false},
		{"loc-1", false},
		{"loc_1", false},
		{"lóc", false},
		{"loc\n", false},
	}
	for _, tt := range tests {
		if got := ids.ValidHighLevel(tt.id); got != tt.want {
			t.Errorf("ValidHighLevel(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
