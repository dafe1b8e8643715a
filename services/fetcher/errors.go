package fetcher

import (
	"errors"

	"github.com/socialsync/socialsync/pkg/relations/revision"
)

var (
	// errTooSoon is a refresh that came before the location's catalogue
	// may be fetched again; JetStream redelivers it when it may.
	errTooSoon = errors.New("catalogue fetched too recently; refresh deferred")
	// errFetching is a refresh that came while this replica fetches the
	// same location's catalogue; JetStream redelivers it later.
	errFetching = errors.New("catalogue fetch already running; refresh deferred")
	// errConflict is a catalogue or cursor store that lost a race with
	// another replica's: the stored revision changed since it was read.
	errConflict = revision.ErrConflict
)
