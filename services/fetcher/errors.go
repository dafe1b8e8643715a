package fetcher

import "errors"

var (
	// errTooSoon is a refresh that came before the location's catalogue
	// may be fetched again; JetStream redelivers it when it may.
	errTooSoon = errors.New("catalogue fetched too recently; refresh deferred")
	// errFetching is a refresh that came while this replica fetches the
	// same location's catalogue; JetStream redelivers it later.
	errFetching = errors.New("catalogue fetch already running; refresh deferred")
	// errConflict is a catalogue store that lost a race with another
	// replica's: the stored revision changed since it was read.
	errConflict = errors.New("catalogue changed since it was read")
)
