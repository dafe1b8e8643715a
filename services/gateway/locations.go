package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
)

// location is a connected location as the API shows it: its token's state,
// never the token.
type location struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Timezone   string     `json:"timezone,omitempty"`
	Auth       string     `json:"auth"`
	State      string     `json:"state"`
	Reason     string     `json:"reason,omitempty"`
	StateSince *time.Time `json:"stateSince,omitempty"`
	AddedAt    time.Time  `json:"addedAt"`
	Token      tokenState `json:"token"`
	// Hold is set while the location's work is held back: paused, or
	// waiting for re-authorisation (lifecycle.go).
	Hold *hold `json:"hold,omitempty"`
	// Removal is set while the location is being removed (removal.go).
	Removal *removalState `json:"removal,omitempty"`
}

// removalState is what a location shows of its removal running; GET
// /v1/locations/{loc}/removal has its progress.
type removalState struct {
	Since     time.Time `json:"since"`
	By        string    `json:"by,omitempty"`
	Purge     bool      `json:"purge"`
	PurgeData bool      `json:"purgeData"`
}

type tokenState struct {
	// Status is "valid", "expired", "needs_reauth" or "unknown" (the
	// record could not be read: Error says why).
	Status      string     `json:"status"`
	ExpiresAt   *time.Time `json:"expiresAt,omitempty"`
	Scopes      []string   `json:"scopes"`
	CanRefresh  bool       `json:"canRefresh"`
	Refreshing  string     `json:"refreshing,omitempty"`
	ReauthSince *time.Time `json:"reauthSince,omitempty"`
	Error       string     `json:"error,omitempty"`
}

func (g *Gateway) toLocation(ctx context.Context, l creds.Location) location {
	out := location{ID: l.ID, Name: l.Name, Timezone: l.Timezone, Auth: string(l.Auth), State: string(l.State), Reason: l.Reason, AddedAt: l.AddedAt}
	if !l.StateSince.IsZero() {
		out.StateSince = &l.StateSince
	}
	out.Token = g.tokenState(ctx, l.ID)
	out.Hold = g.holdOf(ctx, l)
	if rm := l.Removing; rm != nil {
		out.Removal = &removalState{Since: rm.Since.UTC(), By: rm.By, Purge: rm.Purge, PurgeData: rm.PurgeData}
	}
	return out
}

func (g *Gateway) tokenState(ctx context.Context, loc string) tokenState {
	return g.tokenStateOf(g.deps.Directory.Status(ctx, loc))
}

// tokenStateOf is what the API shows of a token's status st, or of the
// error reading it.
func (g *Gateway) tokenStateOf(st creds.TokenStatus, err error) tokenState {
	if err != nil {
		// The error names the location and the cause, never a token.
		return tokenState{Status: "unknown", Scopes: []string{}, Error: err.Error()}
	}
	ts := tokenState{Status: "valid", Scopes: st.Scopes, CanRefresh: st.CanRefresh, Refreshing: st.Refreshing}
	if ts.Scopes == nil {
		ts.Scopes = []string{}
	}
	if !st.ExpiresAt.IsZero() {
		exp := st.ExpiresAt.UTC()
		ts.ExpiresAt = &exp
		if exp.Before(g.now()) {
			ts.Status = "expired"
		}
	}
	if st.NeedsReauth != nil {
		ts.Status = "needs_reauth"
		since := st.NeedsReauth.Since.UTC()
		ts.ReauthSince = &since
	}
	return ts
}

func (g *Gateway) listLocations(w http.ResponseWriter, r *http.Request) {
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	locs, err := g.deps.Directory.Locations(r.Context())
	if err != nil {
		g.storeError(w, "list locations", err)
		return
	}
	k := keyOfRequest(r)
	locs = slices.DeleteFunc(locs, func(l creds.Location) bool { return !k.allows(l.ID) })
	lo, hi, next := p.window(len(locs))
	out := list[location]{Items: []location{}, NextCursor: next}
	for _, l := range locs[lo:hi] {
		out.Items = append(out.Items, g.toLocation(r.Context(), l))
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getLocation(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, g.toLocation(r.Context(), l))
}

// location reads the {loc} of the path: 400 for an invalid id, 403 for a
// location the caller's key may not see, 404 for a location that is not
// connected.
func (g *Gateway) location(w http.ResponseWriter, r *http.Request) (creds.Location, bool) {
	id := r.PathValue("loc")
	if !ids.ValidHighLevel(id) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id (letters and digits), got "+quote(id))
		return creds.Location{}, false
	}
	// Refused before it is looked up: a limited key learns nothing of
	// the locations it may not see, not even whether they exist.
	if !allow(w, r, id) {
		return creds.Location{}, false
	}
	l, err := g.deps.Directory.Location(r.Context(), id)
	if errors.Is(err, creds.ErrUnknownLocation) {
		writeError(w, http.StatusNotFound, "not_found", "location "+id+" is not registered: connect it first (socialsync locations add)")
		return creds.Location{}, false
	}
	if err != nil {
		g.storeError(w, "read location", err)
		return creds.Location{}, false
	}
	return l, true
}

// storeError answers a failed read of JetStream: 429 with Retry-After,
// as for every unavailable dependency.
func (g *Gateway) storeError(w http.ResponseWriter, what string, err error) {
	g.log.Warn(what, "err", err)
	unavailable(w, what+": JetStream did not answer; retry later")
}

func quote(s string) string { return `"` + clip(s, 64) + `"` }
