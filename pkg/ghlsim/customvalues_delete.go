package ghlsim

import (
	"net/http"
	"slices"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// deleteCustomValue answers DELETE /locations/{locationId}/customValues/{id}
// as HighLevel does: {"succeded": true}, or 400 for an unknown id.
func (s *Simulator) deleteCustomValue(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.Lock()
	n := len(l.customValues)
	id := r.PathValue("id")
	l.customValues = slices.DeleteFunc(l.customValues, func(cv *ghl.CustomValue) bool { return cv.ID == id })
	deleted := len(l.customValues) < n
	l.mu.Unlock()
	if !deleted {
		writeBadRequest(w, "Custom value not found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"succeded": true})
}
