package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/automation"
)

// definition is a stored segment or workflow as the API shows it. A stored
// definition that does not load (the workers skip it) has loaded false
// and error saying why.
type definition struct {
	Name       string          `json:"name"`
	Revision   uint64          `json:"revision"`
	UpdatedAt  time.Time       `json:"updatedAt"`
	Summary    string          `json:"summary"`
	Loaded     bool            `json:"loaded"`
	Error      string          `json:"error,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`
	// Members is a segment's size per location; Total their sum (GET
	// /v1/segments/{name} only).
	Members map[string]int `json:"members,omitempty"`
	Total   *int           `json:"total,omitempty"`
}

func toDefinition(s automation.Stored) definition {
	d := definition{Name: s.Name, Revision: s.Revision, UpdatedAt: s.Updated.UTC(), Summary: s.Summary, Loaded: s.Err == nil}
	if s.Err != nil {
		d.Error = clip(s.Err.Error(), 300)
	}
	if json.Valid(s.Value) && strings.HasPrefix(strings.TrimSpace(string(s.Value)), "{") {
		d.Definition = s.Value
	}
	return d
}

// listDefinitions lists the stored definitions of a kind, by name: for a
// location-limited key, those that name only its locations.
func (g *Gateway) listDefinitions(k automation.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := parsePage(w, r)
		if !ok {
			return
		}
		stored, err := k.List(r.Context(), g.deps.JS)
		if err != nil {
			g.storeError(w, "list "+k.Name, err)
			return
		}
		key := keyOfRequest(r)
		stored = slices.DeleteFunc(stored, func(s automation.Stored) bool { return !key.allowsAll(s.Locations) })
		lo, hi, next := p.window(len(stored))
		out := list[definition]{Items: []definition{}, NextCursor: next}
		for _, s := range stored[lo:hi] {
			out.Items = append(out.Items, toDefinition(s))
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// getDefinition reads the {name} of the path; it answers 400, 404, or 403
// for a definition that names a location the caller's key may not see (or
// none, when the key is limited), and returns false when it cannot.
func (g *Gateway) getDefinition(w http.ResponseWriter, r *http.Request, k automation.Kind) (automation.Stored, bool) {
	name := r.PathValue("name")
	s, err := k.Get(r.Context(), g.deps.JS, name)
	switch {
	case errors.Is(err, automation.ErrInvalid):
		writeError(w, http.StatusBadRequest, "bad_request", "name: want 1 to 64 lower-case letters, digits, '-' and '_', got "+quote(name))
	case errors.Is(err, automation.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", strings.TrimSuffix(k.Name, "s")+" "+name+" is not stored")
	case err != nil:
		g.storeError(w, "read "+k.Name, err)
	case !keyOfRequest(r).allowsAll(s.Locations):
		refuseDefinition(w, keyOfRequest(r), k, name)
	default:
		return s, true
	}
	return s, false
}

// refuseDefinition answers 403 for the stored definition name of kind k,
// which names locations key may not see.
func refuseDefinition(w http.ResponseWriter, key apiKey, k automation.Kind, name string) {
	writeError(w, http.StatusForbidden, "location_refused", "this API key is limited to locations "+strings.Join(key.locationList(), ",")+
		": "+strings.TrimSuffix(k.Name, "s")+" "+name+" is stored for other locations or for every location")
}

func (g *Gateway) getWorkflow(w http.ResponseWriter, r *http.Request) {
	if s, ok := g.getDefinition(w, r, automation.Workflows); ok {
		writeJSON(w, http.StatusOK, toDefinition(s))
	}
}

// getSegment shows a segment with its members per location.
func (g *Gateway) getSegment(w http.ResponseWriter, r *http.Request) {
	s, ok := g.getDefinition(w, r, automation.Segments)
	if !ok {
		return
	}
	sizes, err := automation.SegmentSizes(r.Context(), g.deps.JS, "")
	if err != nil {
		g.storeError(w, "count segment members", err)
		return
	}
	d := toDefinition(s)
	d.Members = map[string]int{}
	total := 0
	key := keyOfRequest(r)
	for loc, n := range sizes[s.Name] {
		if !key.allows(loc) {
			continue
		}
		d.Members[loc] = n
		total += n
	}
	d.Total = &total
	writeJSON(w, http.StatusOK, d)
}

// locationSegment is a segment as a location sees it.
type locationSegment struct {
	Name    string `json:"name"`
	Summary string `json:"summary"`
	Loaded  bool   `json:"loaded"`
	Error   string `json:"error,omitempty"`
	Members int    `json:"members"`
}

// locationSegments lists the segments that apply to a location with their
// current sizes there; for a location-limited key, only those that name
// none but its locations.
func (g *Gateway) locationSegments(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	stored, err := automation.Segments.List(r.Context(), g.deps.JS)
	if err != nil {
		g.storeError(w, "list segments", err)
		return
	}
	sizes, err := automation.SegmentSizes(r.Context(), g.deps.JS, l.ID)
	if err != nil {
		g.storeError(w, "count segment members", err)
		return
	}
	var items []locationSegment
	key := keyOfRequest(r)
	for _, s := range stored {
		if !key.allowsAll(s.Locations) {
			continue
		}
		seg, err := automation.DecodeSegment(s.Value)
		if err == nil && !seg.AppliesTo(l.ID) {
			continue
		}
		ls := locationSegment{Name: s.Name, Summary: s.Summary, Loaded: s.Err == nil, Members: sizes[s.Name][l.ID]}
		if s.Err != nil {
			ls.Error = clip(s.Err.Error(), 300)
		}
		items = append(items, ls)
	}
	lo, hi, next := p.window(len(items))
	writeJSON(w, http.StatusOK, list[locationSegment]{Items: append([]locationSegment{}, items[lo:hi]...), NextCursor: next})
}

// definitionContent is what an apply body may be: YAML, or JSON (which
// YAML reads too, with the same line numbers).
var definitionContent = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"}

type applyResult struct {
	DryRun  bool          `json:"dryRun"`
	Names   []string      `json:"names"`
	Applied []appliedItem `json:"applied"`
}

type appliedItem struct {
	Name     string `json:"name"`
	Action   string `json:"action"`
	Revision uint64 `json:"revision,omitempty"`
}

// applyDefinitions stores a file of definitions, as `socialsync segments
// apply -f` does: every definition is checked first, and a problem is a
// 422 naming the line and the field. ?prune=true also deletes stored
// definitions the file does not define; ?dryRun=true only checks.
func (g *Gateway) applyDefinitions(k automation.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		if !slices.Contains(definitionContent, strings.ToLower(strings.TrimSpace(mt))) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want Content-Type: application/yaml or application/json")
			return
		}
		q := r.URL.Query()
		flags := map[string]bool{}
		for _, name := range []string{"prune", "dryRun"} {
			switch v := q.Get(name); v {
			case "", "false":
			case "true":
				flags[name] = true
			default:
				writeError(w, http.StatusBadRequest, "bad_request", name+": want true or false, got "+quote(v))
				return
			}
		}
		body, ok := readBody(w, r, g.cfg.WebhookMaxBytes)
		if !ok {
			return
		}
		parsed, err := k.Parse("body", body)
		if err != nil {
			invalidDefinition(w, err)
			return
		}
		if !g.mayApply(w, r, k, parsed) {
			return
		}
		out := applyResult{DryRun: flags["dryRun"], Names: parsed.Names, Applied: []appliedItem{}}
		if !out.DryRun {
			// A location-limited key replaces and prunes only what it sees,
			// each by compare-and-set.
			key := keyOfRequest(r)
			var within func([]string) bool
			if key.limited() {
				within = key.allowsAll
			}
			applied, err := parsed.ApplyWithin(r.Context(), g.deps.JS, flags["prune"], within)
			switch {
			case errors.Is(err, automation.ErrInvalid):
				invalidDefinition(w, err)
				return
			case errors.Is(err, automation.ErrOutside):
				writeError(w, http.StatusForbidden, "location_refused", "this API key is limited to locations "+
					strings.Join(key.locationList(), ",")+": "+clip(err.Error(), 200)+"; nothing after it was stored")
				return
			case errors.Is(err, automation.ErrChanged):
				writeError(w, http.StatusConflict, "conflict", clip(err.Error(), 200))
				return
			}
			if err != nil {
				g.storeError(w, "store "+k.Name, err)
				return
			}
			for _, a := range applied {
				out.Applied = append(out.Applied, appliedItem{Name: a.Name, Action: a.Action, Revision: a.Revision})
			}
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// mayApply answers 403 and returns false when the request's key is
// location-limited and the file would reach beyond its locations: a
// definition that names another location or none (every location), or one
// that replaces a definition stored for other locations.
func (g *Gateway) mayApply(w http.ResponseWriter, r *http.Request, k automation.Kind, p automation.Parsed) bool {
	key := keyOfRequest(r)
	if !key.limited() {
		return true
	}
	mine := strings.Join(key.locationList(), ",")
	for i, name := range p.Names {
		locs := p.Locations[i]
		if len(locs) == 0 {
			writeError(w, http.StatusForbidden, "location_refused", strings.TrimSuffix(k.Name, "s")+" "+name+
				": names no locations (every location); a key limited to locations "+mine+" must list them in locations")
			return false
		}
		for _, l := range locs {
			if !key.allows(l) {
				writeError(w, http.StatusForbidden, "location_refused", strings.TrimSuffix(k.Name, "s")+" "+name+
					": location "+quote(l)+" is refused: this API key is limited to locations "+mine)
				return false
			}
		}
		stored, err := k.Get(r.Context(), g.deps.JS, name)
		switch {
		case errors.Is(err, automation.ErrNotFound):
		case err != nil:
			g.storeError(w, "read "+k.Name, err)
			return false
		case !key.allowsAll(stored.Locations):
			refuseDefinition(w, key, k, name)
			return false
		}
	}
	return true
}

// invalidDefinition answers 422 with where the problem is.
func invalidDefinition(w http.ResponseWriter, err error) {
	body := errorBody{Code: "invalid_definition", Message: clip(err.Error(), 500)}
	var fe *automation.FieldError
	if errors.As(err, &fe) {
		body.Field, body.Line, body.Column = fe.Field, fe.Line, fe.Column
	}
	writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: body})
}

// deleteDefinition deletes a stored definition: 204, or 404 when there is
// none.
func (g *Gateway) deleteDefinition(k automation.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := g.getDefinition(w, r, k); !ok {
			return
		}
		err := k.Delete(r.Context(), g.deps.JS, r.PathValue("name"))
		if errors.Is(err, automation.ErrNotFound) {
			writeError(w, http.StatusNotFound, "not_found", r.PathValue("name")+" is not stored")
			return
		}
		if err != nil {
			g.storeError(w, "delete", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
