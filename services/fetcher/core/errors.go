package core

import "errors"

// ErrInvalidPost is a post trigger that cannot be acted on: no post id, a
// change that does not apply to posts, or an id that is not 1 to 64
// letters and digits.
var ErrInvalidPost = errors.New("invalid post trigger")
