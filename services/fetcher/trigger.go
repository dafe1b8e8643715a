package fetcher

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// handleTrigger turns a post trigger into a pending catalogue refresh of
// its location: it checks the trigger and republishes it to
// socialsync.refresh.catalogue.<loc>, where it replaces the refresh
// already pending, if any (see the package documentation).
func (w *Worker) handleTrigger(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.PostEvent
	loc, err := bus.DecodePost(msg, &ev)
	if err != nil {
		return err
	}
	if err := w.registered(ctx, loc); err != nil {
		return err
	}
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("post trigger of %s: %w", loc, err)
	}
	subject, err := topology.CatalogueRefreshes.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	// The id names the trigger message, so that its redelivery is dropped
	// as a duplicate while two triggers with equal content (no event id,
	// published twice on purpose) both count.
	id := fmt.Sprintf("refresh:%s:%d", loc, meta.Sequence.Stream)
	if _, err := w.deps.Publisher.Publish(ctx, subject, &ev, bus.WithMsgID(id)); err != nil {
		return fmt.Errorf("request catalogue refresh of %s: %w", loc, err)
	}
	return nil
}

// registered fails permanently for a location that was never connected.
func (w *Worker) registered(ctx context.Context, loc string) error {
	_, err := w.deps.Creds.Location(ctx, loc)
	switch {
	case errors.Is(err, creds.ErrUnknownLocation), errors.Is(err, creds.ErrInvalidLocation):
		return bus.Permanent(err)
	case err != nil:
		return fmt.Errorf("look up location %s: %w", loc, err)
	}
	return nil
}
