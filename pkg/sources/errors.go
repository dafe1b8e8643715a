package sources

import "errors"

// ErrNotFound is a source with no binding.
var ErrNotFound = errors.New("no binding for this source")

// ErrInvalid is a binding that cannot be stored; the error wrapping it
// names the field.
var ErrInvalid = errors.New("invalid source binding")
