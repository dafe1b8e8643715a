package tagging

import (
	"slices"

	"github.com/socialsync/socialsync/pkg/contacttags"
)

// Targets returns the contacts a post event concerns: linked ones get the
// post's tags, unlinked ones lose the post. known are the contacts the
// post was last linked to, listed those the event names.
//
//   - A deleted post unlinks every contact, known or listed.
//   - An event that lists contacts links exactly those and unlinks the
//     known ones it no longer lists.
//   - An event that lists none (a source that knows the post's tags but
//     not its contacts, such as the posts poller) keeps the known
//     contacts linked, so that a tag change still reaches them.
//
// Both results are sorted and free of duplicates.
func Targets(known, listed []string, deleted bool) (linked, unlinked []string) {
	switch {
	case deleted:
		return nil, unique(append(slices.Clone(known), listed...))
	case len(listed) == 0:
		return unique(known), nil
	}
	linked = unique(listed)
	for _, id := range unique(known) {
		if !slices.Contains(linked, id) {
			unlinked = append(unlinked, id)
		}
	}
	return linked, unlinked
}

func unique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return contacttags.Sorted(contacttags.Set(in))
}
