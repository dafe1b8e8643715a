package fetcher

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
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
	meta, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("post trigger of %s: %w", loc, err)
	}
	return w.requestRefresh(ctx, loc, &ev, meta.Sequence.Stream)
}

// requestRefresh publishes the post trigger ev, stored at seq, as loc's
// pending catalogue refresh.
func (w *Worker) requestRefresh(ctx context.Context, loc string, ev *socialsyncv1.PostEvent, seq uint64) error {
	subject, err := topology.CatalogueRefreshes.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	// The id names the trigger message, so that its redelivery is dropped
	// as a duplicate while two triggers with equal content (no event id,
	// published twice on purpose) both count.
	id := fmt.Sprintf("refresh:%s:%d", loc, seq)
	if _, err := w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
		return fmt.Errorf("request catalogue refresh of %s: %w", loc, err)
	}
	return nil
}
