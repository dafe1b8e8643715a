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
