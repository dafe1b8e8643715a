package stats

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The stats worker holds the token key, so it runs the removals the
// gateway asks for (DELETE /v1/locations/{loc}): the DurableRemove route.

// removalStep bounds one delivery's purge: past it, the purge stops at the
// end of its step and the request is handed back (a deferral) to go on
// from its cursor, well inside the handler's timeout.
const removalStep = 90 * time.Second

// removalHandler handles RemovalRequested.
type removalHandler struct {
	w *Worker
}

// handle removes the location the subject names, as `socialsync
// locations remove` does (Remover): with purge, what socialsync applied
// in HighLevel first, step by step from its cursor; then its records;
// then the audit entry of the removal. A redelivered request goes on from
// the purge's cursor, or finds the purge done and deletes what is left;
// one of a location whose record is gone deletes what is left and calls
// HighLevel for nothing.
func (h *removalHandler) handle(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.RemovalRequested
	loc, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	r := h.w.deps.Remover
	if r == nil {
		return bus.Permanent(errors.New("this stats worker has no token key and cannot remove locations"))
	}
	_, err = r.Store.Location(ctx, loc)
	registered := err == nil
	if err != nil && !errors.Is(err, creds.ErrUnknownLocation) {
		return err
	}
	by := req.GetRequestedBy()
	if by == "" {
		by = audit.BySystem
	}
	if registered {
		// Paused and marked, whoever sent the request.
		if _, _, err := r.Store.MarkRemoving(ctx, loc, creds.Removal{By: by, Purge: req.GetPurge(), PurgeData: req.GetPurgeData()}); err != nil {
			return err
		}
		if req.GetPurge() {
			run, err := r.Purge(ctx, loc, r.Now().Add(removalStep))
			if errors.Is(err, ErrPurgeStepped) {
				h.w.log.Info("removal: purge goes on in the next delivery", "location", loc, "done", run.Done, "contacts", run.Contacts)
				return bus.Defer(err, time.Second)
			}
			if err != nil {
				return err
			}
			h.w.log.Info("removal: purge done", "location", loc, "contacts", run.Done, "tags", run.Tags, "values", run.Values)
		}
	}
	n, err := r.RemoveState(ctx, loc, req.GetPurgeData())
	if err != nil {
		return err
	}
	h.w.log.Info("location removed", "location", loc, "records", n)
	detail := "state deleted"
	if req.GetPurge() {
		detail += ", tags purged from HighLevel"
	}
	if req.GetPurgeData() {
		detail += ", statistics and reports deleted"
	}
	id := fmt.Sprintf("remove.%s.%d", loc, req.GetRequestedAt().AsTime().UnixNano())
	if h.w.deps.Audit != nil {
		if err := h.w.deps.Audit.RecordOnce(ctx, audit.Entry{Who: by, Action: audit.ActionRemove, Location: loc, Detail: detail}, id); err != nil {
			h.w.log.Warn("audit log", "action", audit.ActionRemove, "location", loc, "err", err)
		}
	}
	return nil
}
