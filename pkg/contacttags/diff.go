package contacttags

import (
	"slices"
	"strings"
)

// Diff is the contact tags to add to and remove from one contact.
type Diff struct {
	Add    []string
	Remove []string
}

// Empty reports whether d changes nothing.
func (d Diff) Empty() bool { return len(d.Add) == 0 && len(d.Remove) == 0 }

// Merge returns the writes of d followed by those of next: a tag written
// by both ends up as next wrote it.
func (d Diff) Merge(next Diff) Diff {
	add, remove := Set(d.Add), Set(d.Remove)
	for _, t := range next.Add {
		add[t] = true
		delete(remove, t)
	}
	for _, t := range next.Remove {
		remove[t] = true
		delete(add, t)
	}
	return Diff{Add: Sorted(add), Remove: Sorted(remove)}
}

// ContactTag returns the contact tag standing for a social tag: prefix
// and name, trimmed and lower-cased as HighLevel stores contact tags (so
// that what is applied compares equal to what HighLevel reports).
func ContactTag(prefix, name string) string {
	return strings.ToLower(strings.TrimSpace(prefix + strings.TrimSpace(name)))
}

// Set returns the members of in as a set.
func Set(in []string) map[string]bool {
	s := make(map[string]bool, len(in))
	for _, v := range in {
		s[v] = true
	}
	return s
}

// Sorted returns the members of s in order, never nil.
func Sorted(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
