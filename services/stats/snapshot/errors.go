package snapshot

import (
	"errors"
)

var (
	// ErrInvalidRequest is a statistics request no retry can satisfy: an
	// unknown platform or profile id.
	ErrInvalidRequest = errors.New("invalid statistics request")
)
