package ghlsim

import (
	"net/http"
	"slices"
)

// deleteLocationTag answers DELETE /locations/{locationId}/tags/{tagId}
// with 200 and {"succeded": true} (HighLevel's spelling). The tag leaves
// the catalogue and every contact carrying it, as deleting a tag in
// HighLevel's settings does (an assumption: the API reference does not
// say). An unknown id answers 400, as HighLevel's tag calls do.
func (s *Simulator) deleteLocationTag(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	id := r.PathValue("tagId")
	l.mu.Lock()
	idx := -1
	for j, t := range l.locTags {
		if t.ID == id {
			idx = j
			break
		}
	}
	if idx < 0 {
		l.mu.Unlock()
		writeBadRequest(w, "Tag not found")
		return
	}
	name := l.locTags[idx].Name
	l.locTags = slices.Delete(l.locTags, idx, idx+1)
	clear(l.locTagByName)
	for j, t := range l.locTags {
		l.locTagByName[t.Name] = j
	}
	for _, ct := range l.contacts {
		ct.Tags = slices.DeleteFunc(ct.Tags, func(t string) bool { return t == name })
	}
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"succeded": true})
}
