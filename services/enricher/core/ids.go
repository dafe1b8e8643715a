package core

import "fmt"

// maxIDLen bounds a post or tag id; HighLevel's are 24 hex digits.
const maxIDLen = 64

// ValidID reports whether id is 1 to 64 ASCII letters and digits, and so
// can be a part of a key or a message id.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
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

// clip shortens input quoted in an error.
func clip(s string) string {
	if len(s) > maxIDLen {
		return s[:maxIDLen] + "…"
	}
	return s
}

// uniq returns ids without repeats, in order of first appearance.
func uniq(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// checkIDs fails with sentinel for the first invalid id of field.
func checkIDs(sentinel error, field string, ids []string) error {
	for i, id := range ids {
		if !ValidID(id) {
			return fmt.Errorf("%w: %s[%d] %q: want 1 to %d letters and digits", sentinel, field, i, clip(id), maxIDLen)
		}
	}
	return nil
}
