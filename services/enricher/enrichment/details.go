package enrichment

import (
	"fmt"
	"strings"
	"time"
)

// RequestedTags returns the tag ids of a details request without
// repeats, or ErrInvalidRequest when there are none or one is invalid.
func RequestedTags(ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no tag_ids", ErrInvalidRequest)
	}
	if err := checkIDs(ErrInvalidRequest, "tag_ids", ids); err != nil {
		return nil, err
	}
	return uniq(ids), nil
}

// Detail is a tag's details as the enricher stores them.
type Detail struct {
	ID        string
	Name      string
	Deleted   bool
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Replaces reports whether fetched should replace stored (nil: nothing
// stored): when it differs and is not older. A detail fetched by a slower
// replica thus cannot overwrite a newer one, and an equal one is not
// written again.
func Replaces(fetched Detail, stored *Detail) bool {
	if stored == nil {
		return true
	}
	if fetched.UpdatedAt.Before(stored.UpdatedAt) {
		return false
	}
	return !equalDetail(fetched, *stored)
}

func equalDetail(a, b Detail) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Deleted == b.Deleted && a.CreatedBy == b.CreatedBy &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// MarkDeleted returns stored marked deleted at when, and whether that
// changes it: a detail already deleted, or updated after when, stays.
func MarkDeleted(stored Detail, when time.Time) (Detail, bool) {
	if stored.Deleted || (!when.IsZero() && when.Before(stored.UpdatedAt)) {
		return stored, false
	}
	stored.Deleted = true
	if !when.IsZero() {
		stored.UpdatedAt = when
	}
	return stored, true
}

// ContactTagName returns the contact tag name that mirrors a social tag:
// the prefix and the tag's name, trimmed.
func ContactTagName(prefix, tag string) string {
	return strings.TrimSpace(prefix + strings.TrimSpace(tag))
}

// MissingContactTags returns the contact tag names, prefix + name, of the
// live details whose names the location's contact tag catalogue
// (existing) lacks, each once. HighLevel stores contact tag names
// trimmed and in lower case, so names are compared that way; the names
// returned keep their case, which HighLevel lowers.
func MissingContactTags(existing []string, details []Detail, naming func(string) string) []string {
	have := make(map[string]bool, len(existing))
	for _, name := range existing {
		have[normalize(name)] = true
	}
	var out []string
	for _, d := range details {
		name := strings.TrimSpace(d.Name)
		if d.Deleted || name == "" {
			continue
		}
		full := strings.TrimSpace(naming(name))
		if key := normalize(full); !have[key] {
			have[key] = true
			out = append(out, full)
		}
	}
	return out
}

// MirrorTagIDs returns, for each contact tag a live detail stands for
// (named by naming, compared as HighLevel compares them: trimmed, lower
// case), the id of the first social tag standing for it.
func MirrorTagIDs(details []Detail, naming func(string) string) map[string]string {
	out := map[string]string{}
	for _, d := range details {
		name := strings.TrimSpace(d.Name)
		if d.Deleted || name == "" {
			continue
		}
		if key := normalize(naming(name)); out[key] == "" {
			out[key] = d.ID
		}
	}
	return out
}

// ContactTagKey is a contact tag name as HighLevel stores it: trimmed,
// lower case.
func ContactTagKey(name string) string { return normalize(name) }

func normalize(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}
