package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// doneRun is a finished dry run named id, as contactsync stores it.
func doneRun(id string) relations.ReconcileRun {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return relations.ReconcileRun{ID: id, DryRun: true, Policy: "respect", State: relations.ReconcileDone, RequestedBy: "api",
		StartedAt: at, UpdatedAt: at, FinishedAt: at, Tags: []string{"social:promo"}, Cursor: 1, Calls: 1, Contacts: 2, Missing: 1,
		Cost:  relations.ReconcileCost{Tags: 1, Contacts: 2, SearchCalls: 1, MaxWrites: 2, AtBudgetSeconds: 10, DailyShare: 0.000005},
		Items: []relations.DriftItem{{Kind: "missing", Contact: "c1", Tag: "social:promo"}}}
}

// putRun stores run as loc's latest reconciliation, as contactsync does.
func putRun(t *testing.T, env *fleettest.Env, loc string, run relations.ReconcileRun) {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), relations.ReconcileKey(loc), data); err != nil {
		t.Fatal(err)
	}
}

// POST /v1/locations/{loc}/reconcile publishes the request contactsync
// reads, refuses one while another run of the location is going, and GET
// shows the latest run; the trigger scope starts one, the read scope
// follows it.
func TestReconcileEndpoint(t *testing.T) {
	env := fleettest.Start(t, "demo")
	w := startEnv(t, env, nil)
	loc := w.Locations[0].ID
	asJSON := bearer(testKey)
	asJSON.Set("Content-Type", "application/json")

	a := w.do(t, "POST", "/v1/locations/"+loc+"/reconcile", asJSON, []byte(`{"dryRun":true}`))
	var accepted struct {
		RunID   string `json:"runId"`
		Subject string `json:"subject"`
	}
	if a.status != http.StatusAccepted || json.Unmarshal(a.body, &accepted) != nil || !strings.HasPrefix(accepted.RunID, "api-") ||
		accepted.Subject != "socialsync.trigger.reconcile."+loc {
		t.Fatalf("POST: %d %s", a.status, a.body)
	}
	reqs := bustest.Decode[socialsyncv1.ReconcileRequested](t, bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.reconcile."+loc))
	if len(reqs) != 1 || !reqs[0].GetDryRun() || reqs[0].GetRunId() != accepted.RunID || reqs[0].GetRequestedBy() != "api" {
		t.Errorf("published %v", reqs)
	}

	running := doneRun(accepted.RunID)
	running.State, running.FinishedAt, running.UpdatedAt = relations.ReconcileRunning, time.Time{}, time.Now()
	putRun(t, env, loc, running)
	if a := w.do(t, "POST", "/v1/locations/"+loc+"/reconcile", asJSON, []byte(`{"runId":"other"}`)); a.status != http.StatusConflict ||
		!strings.Contains(string(a.body), accepted.RunID) {
		t.Errorf("POST while %s runs: %d %s; want 409 naming it", accepted.RunID, a.status, a.body)
	}
	// A run that stored no progress for longer than ReconcileStalled was
	// given up: another may start.
	stalled := running
	stalled.UpdatedAt = time.Now().Add(-relations.ReconcileStalled - time.Minute)
	putRun(t, env, loc, stalled)
	if a := w.do(t, "POST", "/v1/locations/"+loc+"/reconcile", asJSON, []byte(`{"runId":"other"}`)); a.status != http.StatusAccepted {
		t.Errorf("POST after a stalled run: %d %s; want 202", a.status, a.body)
	}
	putRun(t, env, loc, running)
	a = w.do(t, "GET", "/v1/locations/"+loc+"/reconcile", bearer(testKey), nil)
	var got relations.ReconcileRun
	if a.status != http.StatusOK || json.Unmarshal(a.body, &got) != nil || got.ID != accepted.RunID || got.State != relations.ReconcileRunning || got.Missing != 1 {
		t.Errorf("GET: %d %s", a.status, a.body)
	}
}
