package enrichment

import (
	"errors"
)

var (
	// ErrInvalidRequest is a tag details request that cannot be acted on:
	// no tag ids, or an id that is not 1 to 64 letters and digits.
	ErrInvalidRequest = errors.New("invalid tag details request")
)
