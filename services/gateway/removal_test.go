package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// removalAnswer is the part of a removal's answer the tests read.
type removalAnswer struct {
	Location, State, By, Subject, Follow string
	Purge, PurgeData, Duplicate          bool
	Sequence                             uint64
}

// checkRemoval asks for loc's removal through the API, as the contract
// test's part (no stats worker runs here: the request stays stored):
// options that are not booleans, or given twice, are refused naming the
// field; the location is paused and marked at once, the request stored
// once with the key as requester; a second request is the same removal;
// the location cannot be resumed; the request is in the audit log.
func (w *world) checkRemoval(t *testing.T, k *contract, loc string) {
	t.Helper()
	path := "/v1/locations/" + loc
	if a := k.do(t, w, call{method: "DELETE", path: path + "?purge=maybe", status: 400, invalid: true}); !strings.Contains(string(a.body), "purge: want true or false") {
		t.Errorf("purge=maybe: %s", a.body)
	}
	if a := k.do(t, w, call{method: "DELETE", path: path + "?purgeData=true", body: `{"purge":true}`, status: 400}); !strings.Contains(string(a.body), "not both") {
		t.Errorf("options twice: %s", a.body)
	}
	if a := k.do(t, w, call{method: "DELETE", path: path, body: `{"purge":true,"everything":true}`, status: 400, invalid: true}); !strings.Contains(string(a.body), "everything") {
		t.Errorf("unknown field: %s", a.body)
	}
	var none removalAnswer
	if k.do(t, w, call{method: "GET", path: path + "/removal", status: 200}).json(t, &none); none.State != "none" {
		t.Errorf("removal of a location not being removed: %+v", none)
	}
	k.do(t, w, call{method: "GET", path: "/v1/locations/nope0/removal", status: 404})

	var first removalAnswer
	a := k.do(t, w, call{method: "DELETE", path: path + "?purge=true", status: 202})
	a.json(t, &first)
	if first.State != "removing" || !first.Purge || first.PurgeData || !strings.HasPrefix(first.By, "key:") || first.Duplicate ||
		first.Follow != path+"/removal" || a.header.Get("Location") != first.Follow {
		t.Fatalf("removal accepted: %s", a.body)
	}
	var l struct {
		Hold    *struct{ Reason string }
		Removal *struct{ Purge bool }
	}
	k.do(t, w, call{method: "GET", path: path, status: 200}).json(t, &l)
	if l.Hold == nil || l.Hold.Reason != "paused" || l.Removal == nil || !l.Removal.Purge {
		t.Errorf("location being removed: %+v %+v", l.Hold, l.Removal)
	}
	var again removalAnswer
	k.do(t, w, call{method: "DELETE", path: path, body: `{"purgeData":true}`, status: 202}).json(t, &again)
	if !again.Duplicate || again.Sequence != first.Sequence || !again.Purge || again.PurgeData {
		t.Errorf("second request: %+v, want the first removal (%+v)", again, first)
	}
	var got removalAnswer
	k.do(t, w, call{method: "GET", path: path + "/removal", status: 200}).json(t, &got)
	if got.State != "removing" || !got.Purge {
		t.Errorf("removal: %+v", got)
	}
	if a := k.do(t, w, call{method: "POST", path: path + "/resume", status: 409}); a.errorCode(t) != "removing" {
		t.Errorf("resume while removing: %s", a.body)
	}
	// One request stored, for the stats worker.
	s, err := w.Deps.JS.Stream(context.Background(), topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.RemoveTriggers.Subject(loc)
	m, err := s.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	var req socialsyncv1.RemovalRequested
	if err := bus.Unmarshal(m.Header, m.Data, &req); err != nil {
		t.Fatal(err)
	}
	if m.Sequence != first.Sequence || req.GetLocationId() != loc || !req.GetPurge() || req.GetRequestedBy() != first.By {
		t.Errorf("stored request seq %d: %v", m.Sequence, &req)
	}
	var log auditPage
	k.do(t, w, call{method: "GET", path: "/v1/audit?location=" + loc, status: 200}).json(t, &log)
	n := 0
	for _, e := range log.Items {
		if e.Action == "remove" && e.Detail == "DELETE /v1/locations/{loc}" && e.Who == first.By {
			n++
		}
	}
	if n != 2 {
		t.Errorf("audit log of %s: %+v; want the two removal requests", loc, log.Items)
	}
}
