package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// reconcileBody is the body of POST /v1/locations/{loc}/reconcile.
type reconcileBody struct {
	DryRun bool   `json:"dryRun,omitempty"`
	RunID  string `json:"runId,omitempty"`
}

// reconcileAccepted answers a reconciliation request: the run to follow
// (GET /v1/locations/{loc}/reconcile) and where the request went.
type reconcileAccepted struct {
	RunID string `json:"runId"`
	published
}

// startReconcile asks contactsync to reconcile the location's contact
// tags with HighLevel, as `socialsync reconcile` does. It answers 409
// while another run of the location is going: that run goes on, and a
// request would be left alone.
func (g *Gateway) startReconcile(w http.ResponseWriter, r *http.Request) {
	l, ok := g.triggerable(w, r)
	if !ok {
		return
	}
	var b reconcileBody
	if !g.decodeTrigger(w, r, &b) {
		return
	}
	if b.RunID == "" {
		b.RunID = "api-" + strconv.FormatInt(g.now().UnixNano(), 36)
	}
	if !relations.ValidRunID(b.RunID) {
		writeError(w, http.StatusUnprocessableEntity, "invalid", "runId: want 1 to 64 letters, digits, '-' and '_', got "+quote(b.RunID))
		return
	}
	run, found, err := g.reconciliation(r, l.ID)
	if err != nil {
		g.log.Warn("read reconciliation", "location", l.ID, "err", err)
		unavailable(w, "the reconciliation record could not be read; retry later")
		return
	}
	if found && run.Going(g.now()) && run.ID != b.RunID {
		writeError(w, http.StatusConflict, "running", "reconciliation "+quote(run.ID)+" of this location is running; follow it with GET")
		return
	}
	req := &socialsyncv1.ReconcileRequested{LocationId: l.ID, DryRun: b.DryRun, RequestedBy: "api", RunId: b.RunID, RequestedAt: timestamppb.New(g.now())}
	if p, ok := g.publishTrigger(w, r, topology.ReconcileTriggers, req, "reconcile-"+b.RunID); ok {
		writeJSON(w, http.StatusAccepted, reconcileAccepted{RunID: b.RunID, published: p})
	}
}

// getReconciliation answers the location's latest reconciliation: its
// estimate, progress, drift and summary.
func (g *Gateway) getReconciliation(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	run, found, err := g.reconciliation(r, l.ID)
	switch {
	case err != nil:
		g.log.Warn("read reconciliation", "location", l.ID, "err", err)
		unavailable(w, "the reconciliation record could not be read; retry later")
	case !found:
		writeError(w, http.StatusNotFound, "not_found", "location "+l.ID+" was never reconciled")
	default:
		writeJSON(w, http.StatusOK, run)
	}
}

// reconciliation reads loc's latest reconciliation record.
func (g *Gateway) reconciliation(r *http.Request, loc string) (relations.ReconcileRun, bool, error) {
	var run relations.ReconcileRun
	found, err := g.relationsRecord(r, relations.ReconcileKey(loc), &run)
	return run, found, err
}

// relationsRecord reads the JSON record at key of the relations bucket
// into v; false when there is none.
func (g *Gateway) relationsRecord(r *http.Request, key string, v any) (bool, error) {
	e, err := g.kv.relations.Get(r.Context(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(e.Value(), v)
}
