package contactsync

import "errors"

var (
	// ErrUnknownTags is an event naming social tags that the location's
	// catalogue does not hold (yet). It is retried after UnknownTagRetry.
	ErrUnknownTags = errors.New("tags not in the catalogue")
	// ErrUnknownCustomField is a mapping naming a contact custom field
	// the location does not define: the event is dead-lettered, naming it.
	ErrUnknownCustomField = errors.New("unknown contact custom field")
	// errConflict is a key changed by someone else since it was read.
	errConflict = errors.New("changed meanwhile")
)
