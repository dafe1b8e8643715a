package gateway

import (
	"net/http"

	"github.com/socialsync/socialsync/pkg/relations"
)

// remapProgress is the answer of GET /v1/locations/{loc}/remap: the
// renaming's record without its list of contacts, and how many are done.
type remapProgress struct {
	relations.RemapRun
	Done int `json:"done"`
}

// getRemap answers how far the renaming of the location's contact tags
// after its latest contact-tag template change is (contactsync's
// "remap.<loc>"), as `socialsync mappings status` shows it.
func (g *Gateway) getRemap(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	var run relations.RemapRun
	found, err := g.relationsRecord(r, relations.RemapKey(l.ID), &run)
	switch {
	case err != nil:
		g.log.Warn("read contact tag renaming", "location", l.ID, "err", err)
		unavailable(w, "the renaming record could not be read; retry later")
	case !found:
		writeError(w, http.StatusNotFound, "not_found", "the contact-tag template of location "+l.ID+" never changed")
	default:
		done := run.Done()
		run.Contacts = nil
		writeJSON(w, http.StatusOK, remapProgress{RemapRun: run, Done: done})
	}
}
