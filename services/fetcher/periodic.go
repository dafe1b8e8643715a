package fetcher

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// periodicChecks is how many times per CatalogueEvery the periodic
// refresher looks for due locations: a location is refreshed between
// CatalogueEvery and CatalogueEvery*(1+1/periodicChecks) after its last
// fetch.
const periodicChecks = 4

// refreshPeriodically asks for a catalogue refresh of every registered
// location whose catalogue was last fetched CatalogueEvery ago or more,
// so that tags deleted or renamed in a quiet location (no post triggers)
// are noticed too. It only publishes to the location's refresh subject:
// SOCIALSYNC_REFRESH keeps one pending refresh per location, and the
// refresh handler fetches through the location's rate budget like any
// other. Whether a location is due is read from its stored catalogue,
// and the message id names that catalogue, so that N replicas ask once
// between them, and a restart loses nothing.
func (w *Worker) refreshPeriodically(ctx context.Context) error {
	t := time.NewTicker(max(w.cfg.CatalogueEvery/periodicChecks, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		w.eachLocation(ctx, "catalogue refresher", func(ctx context.Context, log *slog.Logger, loc string) {
			if err := w.refreshIfDue(ctx, loc); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "periodic catalogue refresh failed", "location", loc, "err", err)
			}
		})
	}
}

// refreshIfDue publishes a refresh of loc if its catalogue was fetched
// CatalogueEvery ago or more, or never.
func (w *Worker) refreshIfDue(ctx context.Context, loc string) error {
	stored, _, err := w.deps.Catalogues.Load(ctx, loc)
	if err != nil {
		return err
	}
	if w.now().Sub(stored.FetchedAt) < w.cfg.CatalogueEvery {
		return nil
	}
	subject, err := topology.CatalogueRefreshes.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	id := fmt.Sprintf("refresh:periodic:%s:%d", loc, stored.FetchedAt.UnixNano())
	ev := &socialsyncv1.PostEvent{LocationId: loc, EventId: id}
	if _, err := w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
		return fmt.Errorf("request catalogue refresh of %s: %w", loc, err)
	}
	return nil
}
