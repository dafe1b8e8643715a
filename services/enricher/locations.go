package enricher

import (
	"context"
	"errors"
	"fmt"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
)

// registered fails permanently for a location that was never connected.
func (w *Worker) registered(ctx context.Context, loc string) error {
	_, err := w.location(ctx, loc)
	return err
}

// location returns loc's record; an unknown location is permanent.
func (w *Worker) location(ctx context.Context, loc string) (creds.Location, error) {
	l, err := w.deps.Creds.Location(ctx, loc)
	switch {
	case errors.Is(err, creds.ErrUnknownLocation), errors.Is(err, creds.ErrInvalidLocation):
		return l, bus.Permanent(err)
	case err != nil:
		return l, fmt.Errorf("look up location %s: %w", loc, err)
	}
	return l, nil
}
