package ghlsim

import (
	"net/http"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// locationBody is the part of GetLocationByIdSchema the simulator fills.
type locationBody struct {
	ID        string `json:"id"`
	CompanyID string `json:"companyId"`
	Name      string `json:"name"`
	Address   string `json:"address,omitempty"`
	Timezone  string `json:"timezone"`
}

// getLocation answers GET /locations/{locationId}: the sub-account's name,
// address and time zone, as {"location": {…}}.
func (s *Simulator) getLocation(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	writeJSON(w, http.StatusOK, struct {
		Location locationBody `json:"location"`
	}{locationBody{ID: l.id, CompanyID: l.companyID, Name: l.name, Address: l.address, Timezone: l.timezone}})
}

// listLocationTags answers GET /locations/{locationId}/tags: the contact tag
// catalogue, unpaged.
func (s *Simulator) listLocationTags(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.RLock()
	tags := make([]ghl.LocationTag, len(l.locTags))
	copy(tags, l.locTags)
	l.mu.RUnlock()
	writeJSON(w, http.StatusOK, ghl.LocationTagsResponse{Tags: tags})
}

// createLocationTag answers POST /locations/{locationId}/tags with 200 and
// the tag. Names are stored trimmed and lower case, like contact tags; a
// name already in the catalogue returns the existing tag, or the refusal
// configured in duplicates.locationTags.
func (s *Simulator) createLocationTag(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Name *string `json:"name"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	if body.Name == nil || normalizeTag(*body.Name) == "" {
		writeUnprocessable(w, "name should not be empty", "name must be a string")
		return
	}
	l := c.loc
	dup := s.config.Load().duplicates.LocationTags
	l.mu.Lock()
	if dup != http.StatusOK && l.hasLocTag(*body.Name) {
		l.mu.Unlock()
		writeDuplicate(w, dup, "The tag "+quote(normalizeTag(*body.Name))+" already exists")
		return
	}
	t := l.ensureLocTag(*body.Name)
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, ghl.LocationTagResponse{Tag: t})
}

// listCustomValues answers GET /locations/{locationId}/customValues.
func (s *Simulator) listCustomValues(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.RLock()
	out := make([]ghl.CustomValue, len(l.customValues))
	for i, cv := range l.customValues {
		out[i] = *cv
	}
	l.mu.RUnlock()
	writeJSON(w, http.StatusOK, ghl.CustomValuesResponse{CustomValues: out})
}

// getCustomValue answers GET /locations/{locationId}/customValues/{id}.
func (s *Simulator) getCustomValue(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.RLock()
	cv := l.customValueByID(r.PathValue("id"))
	var out ghl.CustomValue
	if cv != nil {
		out = *cv
	}
	l.mu.RUnlock()
	if cv == nil {
		writeBadRequest(w, "Custom value not found")
		return
	}
	writeJSON(w, http.StatusOK, ghl.CustomValueResponse{CustomValue: out})
}

// customValueBody decodes and checks a custom value create or update body;
// it answers the request and returns false when the body is unusable.
func customValueBody(w http.ResponseWriter, r *http.Request) (name, value string, ok bool) {
	var body struct {
		Name  *string `json:"name"`
		Value *string `json:"value"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return "", "", false
	}
	var problems []string
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		problems = append(problems, "name should not be empty")
	}
	if body.Value == nil {
		problems = append(problems, "value must be a string")
	}
	if len(problems) > 0 {
		writeUnprocessable(w, problems...)
		return "", "", false
	}
	return strings.TrimSpace(*body.Name), *body.Value, true
}

// createCustomValue answers POST /locations/{locationId}/customValues with
// 201. A name whose field key is taken answers 400, or 422 as configured
// in duplicates.customValues.
func (s *Simulator) createCustomValue(w http.ResponseWriter, r *http.Request, c *call) {
	name, value, ok := customValueBody(w, r)
	if !ok {
		return
	}
	l := c.loc
	l.mu.Lock()
	if l.customValueByKey(fieldKey(name)) != nil {
		l.mu.Unlock()
		writeDuplicate(w, s.config.Load().duplicates.CustomValues, "A custom value with the name "+quote(name)+" already exists")
		return
	}
	out := *l.addCustomValue(name, value)
	l.mu.Unlock()
	writeJSON(w, http.StatusCreated, ghl.CustomValueResponse{CustomValue: out})
}

// updateCustomValue answers PUT /locations/{locationId}/customValues/{id}
// with 200: it renames (and re-keys) and sets the value.
func (s *Simulator) updateCustomValue(w http.ResponseWriter, r *http.Request, c *call) {
	name, value, ok := customValueBody(w, r)
	if !ok {
		return
	}
	l := c.loc
	l.mu.Lock()
	cv := l.customValueByID(r.PathValue("id"))
	if cv == nil {
		l.mu.Unlock()
		writeBadRequest(w, "Custom value not found")
		return
	}
	if other := l.customValueByKey(fieldKey(name)); other != nil && other != cv {
		l.mu.Unlock()
		writeBadRequest(w, "A custom value with the name "+quote(name)+" already exists")
		return
	}
	cv.Name, cv.FieldKey, cv.Value = name, fieldKey(name), value
	out := *cv
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, ghl.CustomValueResponse{CustomValue: out})
}

// writeDuplicate refuses a create of a name already taken with status
// (400 or 422).
func writeDuplicate(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusUnprocessableEntity {
		writeUnprocessable(w, msg)
		return
	}
	writeBadRequest(w, msg)
}

// addCustomValue creates a custom value. Callers hold mu for writing (or
// own an unpublished location).
func (l *location) addCustomValue(name, value string) *ghl.CustomValue {
	cv := &ghl.CustomValue{
		ID: alnumID(l.rng, 20), Name: name, FieldKey: fieldKey(name), Value: value, LocationID: l.id,
	}
	l.customValues = append(l.customValues, cv)
	return cv
}

// customValueByID returns the custom value with id, or nil. Callers hold mu.
func (l *location) customValueByID(id string) *ghl.CustomValue {
	for _, cv := range l.customValues {
		if cv.ID == id {
			return cv
		}
	}
	return nil
}

// customValueByKey returns the custom value with the field key, or nil.
// Callers hold mu.
func (l *location) customValueByKey(key string) *ghl.CustomValue {
	for _, cv := range l.customValues {
		if cv.FieldKey == key {
			return cv
		}
	}
	return nil
}

// fieldKey is the merge field of a custom value: "{{ custom_values.<snake> }}".
func fieldKey(name string) string {
	var b strings.Builder
	underscore := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if underscore && b.Len() > 0 {
				b.WriteByte('_')
			}
			underscore = false
			b.WriteRune(c)
			continue
		}
		underscore = true
	}
	return "{{ custom_values." + b.String() + " }}"
}
