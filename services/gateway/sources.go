package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/sources"
)

// connectingRetryAfterSeconds is the Retry-After of a 503 for an event
// whose location is being connected: a person is going through the
// OAuth consent screens.
const connectingRetryAfterSeconds = 30

// admit decides whether source may speak for location loc, and answers
// the request when it may not:
//
//   - 403 "source_unbound": the source has no binding (only the legacy
//     "default" source of SOCIALSYNC_WEBHOOK_SECRET speaks unbound, for
//     every registered location);
//   - 403 "forbidden_location": its binding names neither the location
//     nor the location's company. A binding naming no company is decided
//     before the location is read, so the answer says nothing of whether
//     a location outside the binding exists;
//   - 422 "unknown_location": the location is not registered;
//   - 410 "location_uninstalled": the app was uninstalled from it;
//   - 503 "location_connecting" with Retry-After: the location is being
//     connected, its token not yet usable.
func (g *Gateway) admit(ctx context.Context, w http.ResponseWriter, source, loc string) bool {
	b, err := g.sources.Get(ctx, source)
	bound := err == nil
	switch {
	case errors.Is(err, sources.ErrNotFound) && source == defaultSource:
		// The legacy secret: every registered location (warned at start).
	case errors.Is(err, sources.ErrNotFound):
		g.log.Info("webhook refused: source unbound", "source", source, "location", loc)
		writeError(w, http.StatusForbidden, "source_unbound",
			"source "+source+" is bound to no location: an operator binds it first (socialsync sources bind "+source+" --locations "+loc+")")
		return false
	case err != nil:
		g.storeError(w, "read source binding", err)
		return false
	}
	forbidden := func() bool {
		g.log.Info("webhook refused: location outside the source's binding", "source", source, "location", loc)
		writeError(w, http.StatusForbidden, "forbidden_location",
			"source "+source+" may not speak for location "+loc+": its binding names neither the location nor its company (socialsync sources list)")
		return false
	}
	if bound && !b.NamesLocation(loc) && len(b.Companies) == 0 {
		return forbidden()
	}
	l, err := g.deps.Directory.Location(ctx, loc)
	if errors.Is(err, creds.ErrUnknownLocation) {
		writeError(w, http.StatusUnprocessableEntity, "unknown_location",
			"locationId: location "+loc+" is not registered: connect it first (socialsync locations add)")
		return false
	}
	if err != nil {
		g.storeError(w, "read location", err)
		return false
	}
	if bound && !b.Allows(loc, l.CompanyID) {
		return forbidden()
	}
	if gone(w, l) {
		return false
	}
	if l.State == creds.StateConnecting {
		w.Header().Set("Retry-After", strconv.Itoa(connectingRetryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "location_connecting",
			"location "+loc+" is being connected and cannot take events yet; nothing was stored: retry later")
		return false
	}
	return true
}

// warnSources logs, at start, what the webhook sources may do that an
// operator should know: the legacy SOCIALSYNC_WEBHOOK_SECRET speaking
// for every registered location, and sources with a secret but no
// binding, whose events are refused. A failure to read the bindings is
// logged, not fatal: admit reads them on every request.
func (g *Gateway) warnSources(ctx context.Context) {
	if len(g.secrets) == 0 {
		return
	}
	list, err := g.sources.List(ctx)
	if err != nil {
		g.log.Warn("webhook sources: cannot read their bindings", "err", err)
		return
	}
	bound := map[string]bool{}
	for _, b := range list {
		bound[b.Source] = true
	}
	var unbound []string
	for source := range g.secrets {
		switch {
		case source == defaultSource && !bound[source]:
			g.log.Warn("webhook: the legacy SOCIALSYNC_WEBHOOK_SECRET (source default) speaks for every registered location; " +
				"give each sender its own source in SOCIALSYNC_WEBHOOK_SECRETS, bound with socialsync sources bind")
		case !bound[source]:
			unbound = append(unbound, source)
		}
	}
	if len(unbound) > 0 {
		slices.Sort(unbound)
		g.log.Warn("webhook: sources with a secret but no binding; their events are refused (403) until socialsync sources bind",
			"sources", strings.Join(unbound, ","))
	}
}

// sourceView is a source's binding as the API shows it.
type sourceView struct {
	Source    string   `json:"source"`
	Locations []string `json:"locations"`
	Companies []string `json:"companies"`
	UpdatedAt string   `json:"updatedAt,omitempty"`
	// Secret reports whether this gateway holds a secret for the source
	// (SOCIALSYNC_WEBHOOK_SECRETS); the secret itself is never shown.
	Secret bool `json:"secret"`
}

func (g *Gateway) viewSource(b sources.Binding) sourceView {
	v := sourceView{Source: b.Source, Locations: b.Locations, Companies: b.Companies, Secret: len(g.secrets[b.Source]) > 0}
	if v.Locations == nil {
		v.Locations = []string{}
	}
	if v.Companies == nil {
		v.Companies = []string{}
	}
	if !b.UpdatedAt.IsZero() {
		v.UpdatedAt = b.UpdatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	return v
}

// listSources is GET /v1/sources: every binding, and the sources this
// gateway holds a secret for that have none.
func (g *Gateway) listSources(w http.ResponseWriter, r *http.Request) {
	list, err := g.sources.List(r.Context())
	if err != nil {
		g.storeError(w, "list sources", err)
		return
	}
	out := struct {
		Sources []sourceView `json:"sources"`
		// Unbound are the sources with a secret here and no binding.
		Unbound []string `json:"unbound"`
	}{Sources: []sourceView{}, Unbound: []string{}}
	bound := map[string]bool{}
	for _, b := range list {
		bound[b.Source] = true
		out.Sources = append(out.Sources, g.viewSource(b))
	}
	for source := range g.secrets {
		if !bound[source] {
			out.Unbound = append(out.Unbound, source)
		}
	}
	slices.Sort(out.Unbound)
	writeJSON(w, http.StatusOK, out)
}

// sourceName reads the {source} path parameter, answering 400 for an
// invalid one.
func sourceName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("source")
	if !ids.ValidSource(name) {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("source: want 1 to %d letters, digits, '-' or '_', got %s", maxSourceLen, quote(name)))
		return "", false
	}
	return name, true
}

// sourceFailed answers err of what, done to source's binding: 404 for a
// source with no binding, 429 for a store that did not answer; false for
// no error.
func (g *Gateway) sourceFailed(w http.ResponseWriter, source, what string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, sources.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "source "+source+" has no binding")
	default:
		g.storeError(w, what, err)
	}
	return true
}

// getSource is GET /v1/sources/{source}.
func (g *Gateway) getSource(w http.ResponseWriter, r *http.Request) {
	name, ok := sourceName(w, r)
	if !ok {
		return
	}
	b, err := g.sources.Get(r.Context(), name)
	if g.sourceFailed(w, name, "read source binding", err) {
		return
	}
	writeJSON(w, http.StatusOK, g.viewSource(b))
}

// sourceBody is the body of PUT /v1/sources/{source}.
type sourceBody struct {
	Locations []string `json:"locations"`
	Companies []string `json:"companies"`
}

// putSource is PUT /v1/sources/{source}: the binding becomes exactly the
// body's locations and companies.
func (g *Gateway) putSource(w http.ResponseWriter, r *http.Request) {
	name, ok := sourceName(w, r)
	if !ok {
		return
	}
	var body sourceBody
	if !g.decodeTrigger(w, r, &body) {
		return
	}
	b, err := g.sources.Put(r.Context(), name, body.Locations, body.Companies)
	if errors.Is(err, sources.ErrInvalid) {
		writeError(w, http.StatusUnprocessableEntity, "invalid", clip(err.Error(), 500))
		return
	}
	if err != nil {
		g.storeError(w, "store source binding", err)
		return
	}
	g.log.Info("webhook source bound", "source", name, "locations", len(b.Locations), "companies", len(b.Companies))
	writeJSON(w, http.StatusOK, g.viewSource(b))
}

// deleteSource is DELETE /v1/sources/{source}: the source speaks for
// nothing any more (the "default" source for every registered location
// again).
func (g *Gateway) deleteSource(w http.ResponseWriter, r *http.Request) {
	name, ok := sourceName(w, r)
	if !ok {
		return
	}
	if g.sourceFailed(w, name, "remove source binding", g.sources.Delete(r.Context(), name)) {
		return
	}
	g.log.Info("webhook source unbound", "source", name)
	w.WriteHeader(http.StatusNoContent)
}
