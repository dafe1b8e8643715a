package settings

import (
	"errors"
	"testing"
)

func TestCheckSpec(t *testing.T) {
	tests := []struct {
		spec   string
		ok     bool
		withTZ bool
	}{
		{"0 0 6 * * *", true, true},
		{"0 30 6 * * mon-fri", true, true},
		{"*/15 * * ? * *", true, true},
		{"@daily", true, true},
		{"@every 1s", true, false},
		{"@every 24h", true, false},
		{"@at 2030-01-02T03:04:05Z", true, false},
		{"", false, true},
		{"0 6 * * *", false, true},     // five fields: the classic cron
		{"0 0 6 * * * *", false, true}, // seven
		{"0 0 6 * * $", false, true},   // a stray character
		{"@every 500ms", false, false}, // under a second
		{"@every soon", false, false},  // not a duration
		{"@at tomorrow", false, false}, // not RFC 3339
		{"@fortnightly", false, true},  // unknown name
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			err := CheckSpec(tt.spec)
			if tt.ok != (err == nil) {
				t.Fatalf("CheckSpec(%q) = %v, want ok %v", tt.spec, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("CheckSpec(%q) = %v, want ErrInvalidSpec", tt.spec, err)
			}
			if tt.ok && TakesTimeZone(tt.spec) != tt.withTZ {
				t.Errorf("TakesTimeZone(%q) = %v, want %v", tt.spec, !tt.withTZ, tt.withTZ)
			}
		})
	}
}
