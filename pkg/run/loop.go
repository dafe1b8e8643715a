package run

import "context"

// Loop is a named background loop of a worker (a poller, a watch): it
// runs until ctx ends and returns nil then. The process runs it in its
// Group beside the worker's consumers.
type Loop struct {
	Name string
	Run  func(ctx context.Context) error
}
