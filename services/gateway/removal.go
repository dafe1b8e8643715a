package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Location removal (docs/lifecycle.md): the gateway holds no token, so it
// marks the location (paused, removing) and hands the removal to the
// stats worker on socialsync.trigger.remove.<loc>; the worker purges,
// deletes and records it in the audit log.

// removeRoute is the route of DELETE /v1/locations/{loc}: its audit
// entries are the requests, the worker's the removals done.
const removeRoute = "DELETE /v1/locations/{loc}"

// removalOptions are the options of a removal, from the query or a JSON
// body.
type removalOptions struct {
	Purge     bool `json:"purge"`
	PurgeData bool `json:"purgeData"`
}

// removal is what the API shows of a location's removal.
type removal struct {
	Location string `json:"location"`
	// State is "none" (registered, not being removed), "removing" (the
	// worker runs it) or "removed".
	State     string     `json:"state"`
	Since     *time.Time `json:"since,omitempty"`
	By        string     `json:"by,omitempty"`
	Purge     bool       `json:"purge"`
	PurgeData bool       `json:"purgeData"`
	// Progress is the purge's, once it started.
	Progress *relations.PurgeRun `json:"progress,omitempty"`
	// RemovedAt and Detail are the audit entry of the removal done.
	RemovedAt *time.Time `json:"removedAt,omitempty"`
	Detail    string     `json:"detail,omitempty"`
}

// removalAccepted answers DELETE /v1/locations/{loc}: the removal, where
// its request went, and where to follow it.
type removalAccepted struct {
	removal
	published
	Follow string `json:"follow"`
}

// removeLocation is DELETE /v1/locations/{loc}: it marks the location as
// being removed (paused: nothing of the workers runs for it) and stores
// the removal request for the stats worker, answering 202. A second
// request while one runs answers 202 with the same removal: it is not
// asked again while its request is stored.
func (g *Gateway) removeLocation(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	opts, ok := removalOptionsOf(w, r)
	if !ok {
		return
	}
	if !g.deps.Conn.IsConnected() {
		unavailable(w, "JetStream is unavailable; retry later")
		return
	}
	ctx := r.Context()
	rm, changed, err := g.deps.Directory.MarkRemoving(ctx, l.ID, creds.Removal{By: keyID(keyOfRequest(r)), Purge: opts.Purge, PurgeData: opts.PurgeData})
	if err != nil {
		g.storeError(w, "mark location as removing", err)
		return
	}
	subject, err := topology.RemoveTriggers.Subject(l.ID)
	if err != nil {
		writeInvalid(w, err)
		return
	}
	var p published
	if !changed {
		// Stored already (its worker acknowledges it when done): the same
		// removal, not asked again.
		if seq, err := g.pendingRemoval(r, subject); err == nil && seq > 0 {
			p = published{Subject: subject, Sequence: seq, Duplicate: true}
		}
	}
	if p.Sequence == 0 {
		req := &socialsyncv1.RemovalRequested{LocationId: l.ID, Purge: rm.Purge, PurgeData: rm.PurgeData, RequestedBy: rm.By,
			RequestedAt: timestamppb.New(rm.Since)}
		pctx, cancel := context.WithTimeout(ctx, g.cfg.PublishTimeout)
		defer cancel()
		_, ack, err := g.deps.Publisher.PublishTo(pctx, topology.RemoveTriggers, req,
			bus.WithMsgID("remove-"+l.ID+"-"+strconv.FormatInt(rm.Since.UnixNano(), 36)))
		switch {
		case errors.Is(err, bus.ErrBadInput):
			writeError(w, http.StatusUnprocessableEntity, "invalid", err.Error())
			return
		case g.full(w, err):
			return
		case err != nil:
			g.log.Warn("publish removal", "location", l.ID, "err", err)
			unavailable(w, "JetStream did not store the removal request; the location stays paused; retry later")
			return
		}
		p = published{Subject: subject, Sequence: ack.Sequence, Duplicate: ack.Duplicate || !changed}
	}
	follow := "/v1/locations/" + l.ID + "/removal"
	w.Header().Set("Location", follow)
	out := removalAccepted{removal: g.removingOf(r, l.ID, rm), published: p, Follow: follow}
	writeJSON(w, http.StatusAccepted, out)
}

// removalOptionsOf reads the options from the query (purge, purgeData:
// true or false) or from a JSON body, not both; it answers 400 naming
// the field when one is not.
func removalOptionsOf(w http.ResponseWriter, r *http.Request) (removalOptions, bool) {
	var o removalOptions
	q := r.URL.Query()
	for k := range q {
		if k != "purge" && k != "purgeData" {
			writeError(w, http.StatusBadRequest, "bad_request", quote(k)+": unknown parameter; want purge or purgeData")
			return o, false
		}
	}
	for name, dst := range map[string]*bool{"purge": &o.Purge, "purgeData": &o.PurgeData} {
		if s := q.Get(name); s != "" {
			v, err := strconv.ParseBool(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_request", name+": want true or false, got "+quote(s))
				return o, false
			}
			*dst = v
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4097))
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed", "body could not be read")
		return o, false
	}
	if strings.TrimSpace(string(body)) == "" {
		return o, true
	}
	if len(body) > 4096 {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", "body: want at most 4096 bytes")
		return o, false
	}
	if len(q) > 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "give purge and purgeData in the query or in the body, not both")
		return o, false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		writeError(w, http.StatusBadRequest, "malformed", "malformed body: "+clip(err.Error(), 300))
		return o, false
	}
	return o, true
}

// pendingRemoval returns the sequence of the removal request of subject
// still stored (its worker has not acknowledged it); 0 when none is.
func (g *Gateway) pendingRemoval(r *http.Request, subject string) (uint64, error) {
	s, err := g.deps.JS.Stream(r.Context(), topology.StreamTriggers)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(r.Context(), subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// removingOf is what the API shows of loc's removal rm, running.
func (g *Gateway) removingOf(r *http.Request, loc string, rm creds.Removal) removal {
	since := rm.Since.UTC()
	out := removal{Location: loc, State: "removing", Since: &since, By: rm.By, Purge: rm.Purge, PurgeData: rm.PurgeData}
	var run relations.PurgeRun
	if found, err := g.relationsRecord(r, relations.PurgeKey(loc), &run); err == nil && found {
		out.Progress = &run
	} else if err != nil {
		g.log.Warn("read purge progress", "location", loc, "err", err)
	}
	return out
}

// getRemoval is GET /v1/locations/{loc}/removal: the removal running,
// with its purge's progress, or the removal done (from the audit log);
// state "none" for a location registered and not being removed.
func (g *Gateway) getRemoval(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("loc")
	if !ids.ValidHighLevel(id) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id (letters and digits), got "+quote(id))
		return
	}
	if !allow(w, r, id) {
		return
	}
	l, err := g.deps.Directory.Location(r.Context(), id)
	switch {
	case err == nil && l.Removing != nil:
		writeJSON(w, http.StatusOK, g.removingOf(r, id, *l.Removing))
		return
	case err == nil:
		writeJSON(w, http.StatusOK, removal{Location: id, State: "none"})
		return
	case !errors.Is(err, creds.ErrUnknownLocation):
		g.storeError(w, "read location", err)
		return
	}
	entries, _, err := g.audit.List(r.Context(), audit.Filter{Location: id, Limit: maxLimit})
	if err != nil {
		g.storeError(w, "list audit log", err)
		return
	}
	for _, e := range entries {
		if e.Action == audit.ActionRemove && e.Detail != removeRoute {
			at := e.At.UTC()
			writeJSON(w, http.StatusOK, removal{Location: id, State: "removed", By: e.Who, RemovedAt: &at, Detail: e.Detail,
				Purge: strings.Contains(e.Detail, "tags purged"), PurgeData: strings.Contains(e.Detail, "statistics and reports deleted")})
			return
		}
	}
	writeError(w, http.StatusNotFound, "not_found", "location "+id+" is not registered and its removal is not in the audit log")
}
