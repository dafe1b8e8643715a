package catalogue

import (
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
)

// Supersedes reports whether stored, found in place of the catalogue a
// fetch begun at start meant to replace, comes from a later fetch. The
// fetch's result is then older than what is stored and must be dropped,
// or it would undo the changes the later fetch saw.
func Supersedes(stored relations.Catalogue, start time.Time) bool {
	return stored.FetchedAt.After(start)
}

// Covers reports whether stored, the catalogue fetched last, already
// answers a refresh asked for by a post event that names tagIDs and
// occurred at occurred: every tag it names is live in stored, and the
// fetch began no earlier than the event. A fetch begun after the event
// saw the tags the event names and every rename or deletion made before
// it, so a burst of triggers published while the first fetch ran asks
// for no second one. A trigger naming a tag stored does not hold, or
// with no time or no tags (the periodic refresh), is not covered.
func Covers(stored relations.Catalogue, tagIDs []string, occurred time.Time) bool {
	if len(tagIDs) == 0 || occurred.IsZero() || stored.FetchedAt.Before(occurred) {
		return false
	}
	names := stored.Names()
	for _, id := range tagIDs {
		if _, ok := names[id]; !ok {
			return false
		}
	}
	return true
}
