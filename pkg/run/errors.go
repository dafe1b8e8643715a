package run

import "errors"

// ErrShutdownTimeout is returned by Group.Run when components were still
// running when the shutdown timeout ran out, and by Server.Run when
// in-flight requests outlived its shutdown timeout. The error names them.
var ErrShutdownTimeout = errors.New("shutdown timed out")
