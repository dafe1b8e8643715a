package catalogue

import (
	"cmp"
	"github.com/socialsync/socialsync/pkg/relations"
	"slices"
)

// ChangeKind says how a tag changed between two catalogues.
type ChangeKind int

// The kinds of tag change.
const (
	Created ChangeKind = iota + 1
	Renamed
	Deleted
	// Discovered is a tag of a location's first catalogue: new to
	// socialsync, not necessarily to the location.
	Discovered
)

// String returns "created", "renamed", "deleted" or "discovered", the
// form message ids use.
func (k ChangeKind) String() string {
	switch k {
	case Created:
		return "created"
	case Renamed:
		return "renamed"
	case Deleted:
		return "deleted"
	case Discovered:
		return "discovered"
	default:
		return "unknown"
	}
}

// Change is one tag's change. Tag is the tag after the change (before it,
// for a deletion); PreviousName is a renamed tag's old name.
type Change struct {
	Kind         ChangeKind
	Tag          relations.Tag
	PreviousName string
}

// Diff returns the changes from catalogue old to catalogue cur: a tag of
// cur whose id old lacks is created, one whose name differs is renamed, a
// tag of old whose id cur lacks is deleted. Changes come sorted by kind,
// then tag id, so that equal catalogues give equal lists.
func Diff(old, cur []relations.Tag) []Change {
	before := make(map[string]relations.Tag, len(old))
	for _, t := range old {
		before[t.ID] = t
	}
	now := make(map[string]bool, len(cur))
	var out []Change
	for _, t := range cur {
		now[t.ID] = true
		prev, ok := before[t.ID]
		switch {
		case !ok:
			out = append(out, Change{Kind: Created, Tag: t})
		case prev.Name != t.Name:
			out = append(out, Change{Kind: Renamed, Tag: t, PreviousName: prev.Name})
		}
	}
	for _, t := range old {
		if !now[t.ID] {
			out = append(out, Change{Kind: Deleted, Tag: t})
		}
	}
	slices.SortStableFunc(out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Tag.ID, b.Tag.ID))
	})
	return out
}

// Baseline returns the changes of a location's first catalogue: every
// tag of cur is discovered. They are not "created": the location had
// them before socialsync connected it, and workflows on new tags should
// not fire for each of them.
func Baseline(cur []relations.Tag) []Change {
	out := make([]Change, 0, len(cur))
	for _, t := range cur {
		out = append(out, Change{Kind: Discovered, Tag: t})
	}
	slices.SortStableFunc(out, func(a, b Change) int { return cmp.Compare(a.Tag.ID, b.Tag.ID) })
	return out
}

// DetailsWanted returns the ids of the created, renamed and discovered
// tags among
// changes, whose details the enricher should fetch, each once, in order.
func DetailsWanted(changes []Change) []string {
	var ids []string
	seen := make(map[string]bool)
	for _, c := range changes {
		if c.Kind != Deleted && !seen[c.Tag.ID] {
			seen[c.Tag.ID] = true
			ids = append(ids, c.Tag.ID)
		}
	}
	return ids
}
