package ghl

import (
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	tests := map[string]bool{
		"aInbJ1FBHqUIXsDJP4dD":     true,
		"65fbdcfecc884f07e645ea8b": true,
		"":                         false,
		"bad.id":                   false,
		"with space":               false,
		"ünïcode":                  false,
		"a-b":                      false,
		strings.Repeat("a", 64):    true,
		strings.Repeat("a", 65):    false,
	}
	for id, want := range tests {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}
