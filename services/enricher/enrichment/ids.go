package enrichment

import (
	"fmt"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// maxIDLen bounds a post or tag id (see ghl.ValidID).
const maxIDLen = ghl.MaxIDLen

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
		if !ghl.ValidID(id) {
			return fmt.Errorf("%w: %s[%d] %q: want 1 to %d letters and digits", sentinel, field, i, clip(id), maxIDLen)
		}
	}
	return nil
}
