package automation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// MaxNameLen bounds a segment's or a workflow's name.
const MaxNameLen = 64

// ValidName reports whether s can name a segment or a workflow: 1 to 64
// lower-case ASCII letters, digits, '-' and '_', starting with a letter
// or a digit. Names are part of KV keys and of contact tags.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen || s[0] == '-' || s[0] == '_' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// normTag returns a contact tag as HighLevel stores it: trimmed, lower
// case.
func normTag(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkTags checks a list of contact tags and returns them normalised.
func (d *document) checkTags(field string, tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	for i, t := range tags {
		n := normTag(t)
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case n == "":
			return nil, d.errorAt(f, "empty tag")
		case len(n) > 128:
			return nil, d.errorAt(f, "tag longer than 128 characters")
		case strings.ContainsAny(n, ",\n\r"):
			return nil, d.errorAt(f, "tag %q holds a comma or a line break", t)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// checkLocations checks a list of location ids.
func (d *document) checkLocations(field string, locs []string) error {
	for i, l := range locs {
		if !ghl.ValidID(l) {
			return d.errorAt(fmt.Sprintf("%s[%d]", field, i), "location %q: want a HighLevel location id (letters and digits)", l)
		}
	}
	return nil
}

// appliesTo reports whether a definition limited to locs (none: every
// location) applies to loc.
func appliesTo(locs []string, loc string) bool {
	return len(locs) == 0 || slices.Contains(locs, loc)
}
