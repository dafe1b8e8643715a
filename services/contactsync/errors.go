package contactsync

import (
	"errors"
	"fmt"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"strings"
	"time"
)

var (
	// ErrUnknownTags is an event naming social tags that the location's
	// catalogue does not hold, live or deleted. An *UnknownTagsError
	// matches it.
	ErrUnknownTags = errors.New("tags not in the catalogue")
	// ErrUnknownCustomField is a mapping naming a contact custom field
	// the location does not define: the event is dead-lettered, naming it.
	ErrUnknownCustomField = errors.New("unknown contact custom field")
	// errCatalogueBehind is a tag event whose catalogue the fetcher has
	// not stored yet: the event waits for it.
	errCatalogueBehind = errors.New("catalogue not stored yet")
	// errConflict is a key changed by someone else since it was read.
	errConflict = revision.ErrConflict
)

// UnknownTagsError is a post event naming tags that a catalogue fetched
// before the event arrived does not hold: the event waits (DeferFor) for
// the refresh contactsync asked the fetcher for. Waiting is no failure:
// it never makes a dead letter.
type UnknownTagsError struct {
	Location string
	TagIDs   []string
	After    time.Duration
}

// Error names the location and the tags.
func (e *UnknownTagsError) Error() string {
	return fmt.Sprintf("%s of %s: %s; waiting for a fresh catalogue", ErrUnknownTags, e.Location, strings.Join(e.TagIDs, ", "))
}

// Is makes errors.Is(err, ErrUnknownTags) true.
func (e *UnknownTagsError) Is(target error) bool { return target == ErrUnknownTags }

// DeferFor is how long the event waits before it is tried again.
func (e *UnknownTagsError) DeferFor() time.Duration { return e.After }
