package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/settings"
)

// A location's settings as the dashboard edits them: the mapping (how its
// social data lands in HighLevel) and the statistics schedule. Reading
// takes the read scope, writing the admin scope; a refusal names every
// field at fault (settings.Problem), for the form to show next to it. The
// workers watch the settings bucket: the stats workers reschedule the
// location at once, contactsync names the next tags with the new mapping.

// locationSettings is GET /v1/locations/{loc}/settings.
type locationSettings struct {
	Mapping settings.Mapping `json:"mapping"`
	// MappingStored is false when the location has no mapping of its own
	// (Mapping then shows the defaults).
	MappingStored bool           `json:"mappingStored"`
	Stats         settings.Stats `json:"stats"`
	// Timezone is the location's own, which a schedule without one uses.
	Timezone string `json:"timezone"`
}

func (g *Gateway) getSettings(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	kv, err := settings.Open(r.Context(), g.deps.JS)
	if err != nil {
		g.storeError(w, "open settings", err)
		return
	}
	m, stored, err := settings.GetMapping(r.Context(), kv, l.ID)
	if err != nil {
		g.storeError(w, "read mapping", err)
		return
	}
	if !stored {
		m = settings.Mapping{Location: l.ID, ContactTag: settings.DefaultContactTag}
	}
	st, err := settings.GetStats(r.Context(), kv, l.ID)
	if err != nil {
		g.storeError(w, "read statistics settings", err)
		return
	}
	tz := l.Timezone
	if tz == "" {
		tz = "UTC"
	}
	writeJSON(w, http.StatusOK, locationSettings{Mapping: m, MappingStored: stored, Stats: st, Timezone: tz})
}

// putMapping is PUT /v1/locations/{loc}/settings/mapping: the body
// replaces the location's mapping. Its location, when given, must be the
// path's.
func (g *Gateway) putMapping(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	var m settings.Mapping
	if !g.decodeTrigger(w, r, &m) {
		return
	}
	if m.Location != "" && m.Location != l.ID {
		invalidFields(w, []settings.Problem{{Field: "location", Message: "this is the mapping of " + l.ID + ", not of " + quote(m.Location)}})
		return
	}
	m.Location = l.ID
	if ps := m.Problems(); len(ps) > 0 {
		invalidFields(w, ps)
		return
	}
	g.storeSetting(w, r, l.ID, "mapping", m, func(ctx context.Context, kv jetstream.KeyValue) error {
		// A new contact-tag template renames the tags socialsync gave,
		// as from the CLI; GET /v1/locations/{loc}/remap follows it.
		_, err := settings.SaveMapping(ctx, g.deps.JS, kv, m, "api", g.now())
		return err
	})
}

// putSchedule is PUT /v1/locations/{loc}/settings/stats: the body
// replaces the location's statistics settings (empty fields: the
// worker's defaults).
func (g *Gateway) putSchedule(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	var st settings.Stats
	if !g.decodeTrigger(w, r, &st) {
		return
	}
	st.Cron, st.Timezone = strings.TrimSpace(st.Cron), strings.TrimSpace(st.Timezone)
	if ps := st.Problems(); len(ps) > 0 {
		invalidFields(w, ps)
		return
	}
	g.storeSetting(w, r, l.ID, "statistics settings", st, func(ctx context.Context, kv jetstream.KeyValue) error {
		return settings.PutStats(ctx, kv, l.ID, st)
	})
}

// storeSetting stores a valid setting v of loc with put and answers it.
func (g *Gateway) storeSetting(w http.ResponseWriter, r *http.Request, loc, what string, v any, put func(context.Context, jetstream.KeyValue) error) {
	kv, err := settings.Open(r.Context(), g.deps.JS)
	if err == nil {
		err = put(r.Context(), kv)
	}
	if err != nil {
		g.storeError(w, "store "+what, err)
		return
	}
	g.log.Info("setting stored", "location", loc, "setting", what)
	writeJSON(w, http.StatusOK, v)
}

// invalidFields answers 422 naming every field at fault.
func invalidFields(w http.ResponseWriter, ps []settings.Problem) {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Field + ": " + p.Message
	}
	writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: errorBody{Code: "invalid", Message: clip(strings.Join(msgs, "; "), 1000),
		Field: ps[0].Field, Problems: ps}})
}
