package enricher

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
)

// location returns loc's record, which the details handler reads for the
// features its token lacks. The route's location check (bus.Registered)
// let the message through, so an unknown location here is one removed
// since: that is permanent too.
func (w *Worker) location(ctx context.Context, loc string) (creds.Location, error) {
	l, err := w.deps.Locations.Location(ctx, loc)
	switch {
	case errors.Is(err, creds.ErrUnknownLocation), errors.Is(err, creds.ErrInvalidLocation):
		return l, bus.Permanent(err)
	case err != nil:
		return l, fmt.Errorf("look up location %s: %w", loc, err)
	}
	return l, nil
}
