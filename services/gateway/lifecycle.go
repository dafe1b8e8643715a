package gateway

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Location lifecycle (docs/lifecycle.md): pause and resume a location,
// refuse the triggers of one held back longer than SOCIALSYNC_PAUSE_MAX,
// and the audit log of what admin keys did.

// heldRetryAfterSeconds is the Retry-After of a trigger refused because
// its location is held back too long.
const heldRetryAfterSeconds = 3600

// hold is what the API shows of a location whose work is held back.
type hold struct {
	// Reason is "paused" or "needs_reauth".
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	By     string    `json:"by,omitempty"`
	// Triggers counts the location's triggers kept, waiting.
	Triggers uint64 `json:"triggers"`
	// RefusingSince is when its new triggers start being refused
	// (Since + SOCIALSYNC_PAUSE_MAX).
	RefusingSince time.Time `json:"refusingSince"`
}

// holdOf returns what the API shows of l's hold; nil when its work runs.
func (g *Gateway) holdOf(ctx context.Context, l creds.Location) *hold {
	h, held := l.Held()
	if !held {
		return nil
	}
	out := &hold{Reason: h.Reason, Since: h.Since.UTC(), By: h.By, RefusingSince: h.Since.Add(g.cfg.PauseMax).UTC()}
	if n, err := topology.HeldTriggers(ctx, g.deps.JS, l.ID); err == nil {
		out.Triggers = n
	} else {
		g.log.Warn("count held triggers", "location", l.ID, "err", err)
	}
	return out
}

// refuseHeld answers 503 and returns true when loc's work has been held
// back (paused, or waiting for re-authorisation) longer than
// SOCIALSYNC_PAUSE_MAX: its new triggers are no longer kept. A location
// held back for less has its triggers stored, within its quota.
func (g *Gateway) refuseHeld(ctx context.Context, w http.ResponseWriter, loc string) bool {
	h, held, err := g.deps.Held(ctx, loc)
	if err != nil || !held || g.now().Sub(h.Since) < g.cfg.PauseMax {
		// An unreadable record is the publish's business: the workers
		// check it again.
		return false
	}
	if g.heldRefused != nil {
		g.heldRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "pause_max")))
	}
	g.log.Warn("trigger refused: location held back too long", "location", loc, "reason", h.Reason)
	w.Header().Set("Retry-After", strconv.Itoa(heldRetryAfterSeconds))
	what, way := "paused", "resume it (socialsync locations resume, POST /v1/locations/"+loc+"/resume)"
	if h.Reason == creds.HoldNeedsReauth {
		what, way = "waiting for re-authorisation", "connect it again (socialsync connect)"
	}
	writeError(w, http.StatusServiceUnavailable, "location_held",
		"location "+loc+" has been "+what+" since "+h.Since.UTC().Format(time.RFC3339)+", longer than SOCIALSYNC_PAUSE_MAX ("+
			g.cfg.PauseMax.String()+"): its new triggers are refused, nothing was stored; "+way)
	return true
}

// countHeldQuota counts a trigger refused for its location's quota when
// the location is held back: its kept work has filled the quota.
func (g *Gateway) countHeldQuota(loc string) {
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.PublishTimeout)
	defer cancel()
	if _, held, err := g.deps.Held(ctx, loc); err == nil && held && g.heldRefused != nil {
		g.heldRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", "quota")))
	}
}

func (g *Gateway) newHeldRefusedCounter() metric.Int64Counter {
	c, err := g.deps.Telemetry.MeterProvider().Meter("socialsync/gateway").Int64Counter("socialsync.gateway.held_refused",
		metric.WithDescription("Triggers refused for a location held back (paused, or waiting for re-authorisation), by reason: pause_max (held longer than SOCIALSYNC_PAUSE_MAX) or quota (its kept triggers fill its quota)."))
	if err != nil {
		g.log.Warn("gateway metrics", "err", err)
		return nil
	}
	return c
}

// pauseLocation is POST /v1/locations/{loc}/pause.
func (g *Gateway) pauseLocation(w http.ResponseWriter, r *http.Request) {
	g.setPaused(w, r, true)
}

// resumeLocation is POST /v1/locations/{loc}/resume.
func (g *Gateway) resumeLocation(w http.ResponseWriter, r *http.Request) {
	g.setPaused(w, r, false)
}

func (g *Gateway) setPaused(w http.ResponseWriter, r *http.Request, pause bool) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	var err error
	if pause {
		_, err = g.deps.Directory.Pause(r.Context(), l.ID, keyID(keyOfRequest(r)))
	} else {
		_, err = g.deps.Directory.Resume(r.Context(), l.ID)
	}
	if errors.Is(err, creds.ErrRemoving) {
		writeError(w, http.StatusConflict, "removing", "location "+l.ID+" is being removed (GET /v1/locations/"+l.ID+"/removal): it cannot be resumed")
		return
	}
	if err != nil {
		g.storeError(w, "pause or resume location", err)
		return
	}
	if l, err = g.deps.Directory.Location(r.Context(), l.ID); err != nil {
		g.storeError(w, "read location", err)
		return
	}
	writeJSON(w, http.StatusOK, g.toLocation(r.Context(), l))
}

// keyID names an API key in the audit log without revealing it: the first
// 8 hex digits of its SHA-256 digest, as SOCIALSYNC_API_KEY_HASHES lists
// it.
func keyID(k apiKey) string {
	if len(k.hash) < 4 {
		return "key:unknown"
	}
	return "key:" + hex.EncodeToString(k.hash[:4])
}

// auditedActions maps the routes recorded in the audit log to their
// action; every other route needing the admin scope that is not a read is
// recorded as admin_key.
var auditedActions = map[string]string{
	"POST /v1/locations/{loc}/pause":    audit.ActionPause,
	"POST /v1/locations/{loc}/resume":   audit.ActionResume,
	"POST /v1/deadletters/{seq}/replay": audit.ActionReplay,
	"POST /v1/deadletters/replay":       audit.ActionReplay,
	"POST /v1/locations/{loc}/doctor":   audit.ActionDoctor,
	removeRoute:                         audit.ActionRemove,
}

// audited records in the audit log each successful call of rt: who (the
// API key's id), what, when, and the location of the path.
func (g *Gateway) audited(rt apiRoute) http.HandlerFunc {
	action, ok := auditedActions[rt.pattern]
	if !ok && rt.scope == scopeAdmin && !strings.HasPrefix(rt.pattern, "GET ") {
		action, ok = audit.ActionAdminKey, true
	}
	if !ok {
		return rt.handler
	}
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		rt.handler(sw, r)
		if sw.status >= 400 {
			return
		}
		e := audit.Entry{Who: keyID(keyOfRequest(r)), Action: action, Location: r.PathValue("loc"), Detail: rt.pattern}
		if seq := r.PathValue("seq"); seq != "" {
			e.Detail += " seq " + seq
		}
		if err := g.audit.Record(context.WithoutCancel(r.Context()), e); err != nil {
			g.log.Warn("audit log", "action", action, "err", err)
		}
	}
}

// listAudit is GET /v1/audit: the audit log, newest first, optionally of
// one location; cursor is the nextCursor of the previous page.
func (g *Gateway) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := audit.Filter{Location: q.Get("location"), Limit: defaultLimit}
	if f.Location != "" && !ids.ValidHighLevel(f.Location) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id (letters and digits), got "+quote(f.Location))
		return
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			writeError(w, http.StatusBadRequest, "bad_request", "limit: want 1 to "+strconv.Itoa(maxLimit)+", got "+quote(s))
			return
		}
		f.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			writeError(w, http.StatusBadRequest, "bad_request", "cursor: want the nextCursor of the previous page, got "+quote(s))
			return
		}
		f.Before = n
	}
	entries, next, err := g.audit.List(r.Context(), f)
	if errors.Is(err, context.Canceled) {
		return
	}
	if err != nil {
		g.storeError(w, "list audit log", err)
		return
	}
	out := list[audit.Entry]{Items: entries}
	if next > 0 {
		out.NextCursor = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, out)
}
