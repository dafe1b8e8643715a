package contactsync

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Locations lists the registered locations (creds.Directory), for the
// reconciliation schedules.
type Locations interface {
	Locations(ctx context.Context) ([]creds.Location, error)
}

// scheduleReconciliations requests, every ReconcileCheck, the scheduled
// reconciliations that are due (reconcileIfDue) until ctx ends.
func (w *Worker) scheduleReconciliations(ctx context.Context) error {
	t := time.NewTicker(w.cfg.ReconcileCheck)
	defer t.Stop()
	log := w.log.With("component", "reconcile scheduler")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Only a location with a mapping can have a schedule: the
		// mappings are listed once, not read per location.
		mapped, err := w.deps.Mappings.Mapped(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "list mappings failed", "err", err)
			}
			continue
		}
		if len(mapped) == 0 {
			continue
		}
		hasMapping := make(map[string]bool, len(mapped))
		for _, loc := range mapped {
			hasMapping[loc] = true
		}
		locs, err := w.deps.Locations.Locations(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "list locations failed", "err", err)
			}
			continue
		}
		for _, l := range locs {
			if _, held := l.Held(); held || !hasMapping[l.ID] { // paused, or waiting for re-authorisation; or no mapping
				continue
			}
			if err := w.reconcileIfDue(ctx, l.ID); err != nil && ctx.Err() == nil {
				log.WarnContext(ctx, "scheduled reconciliation not requested", "location", l.ID, "err", err)
			}
		}
	}
}

// reconcileIfDue requests loc's scheduled reconciliation of the current
// period when its mapping has a schedule (reconcile.every) and the
// period's run has not been requested yet. The run is named after the
// period, and so is its message id: replicas asking at once store one
// request, and a run done for the period is not asked again.
func (w *Worker) reconcileIfDue(ctx context.Context, loc string) error {
	m, ok, err := w.deps.Mappings.Mapping(ctx, loc)
	if err != nil || !ok {
		return err
	}
	every := m.ReconcileEvery()
	if every == 0 {
		return nil
	}
	id := "sched-" + strconv.FormatInt(w.now().Truncate(every).Unix(), 10)
	var run relations.ReconcileRun
	if _, err := w.h.store.load(ctx, relations.ReconcileKey(loc), &run); err != nil {
		return err
	}
	if run.ID == id || run.Going(w.now()) {
		return nil
	}
	subject, err := topology.ReconcileTriggers.Subject(loc)
	if err != nil {
		return err
	}
	req := &socialsyncv1.ReconcileRequested{LocationId: loc, RequestedBy: "schedule", RunId: id, RequestedAt: timestamppb.New(w.now())}
	if _, err := w.deps.Publisher.Publish(ctx, subject, req, bus.WithMsgID("reconcile:"+loc+":"+id)); err != nil {
		return fmt.Errorf("request scheduled reconciliation of %s: %w", loc, err)
	}
	return nil
}
