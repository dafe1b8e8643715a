package ghlsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// customField is a contact custom field's definition.
type customField struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	FieldKey   string `json:"fieldKey"`
	DataType   string `json:"dataType"`
	Model      string `json:"model"`
	LocationID string `json:"locationId"`
}

// addCustomField defines a TEXT contact custom field from its key
// ("contact.last_social_tag") or its name. Callers hold mu.
func (l *location) addCustomField(keyOrName string) (customField, error) {
	key := strings.TrimSpace(keyOrName)
	name := strings.TrimPrefix(key, "contact.")
	if !strings.HasPrefix(key, "contact.") {
		key = "contact." + strings.ReplaceAll(strings.ToLower(key), " ", "_")
	}
	if name == "" || slices.ContainsFunc(l.customFields, func(f customField) bool { return f.FieldKey == key }) {
		return customField{}, fmt.Errorf("custom field %q is empty or listed twice", keyOrName)
	}
	f := customField{ID: alnumID(l.rng, 20), Name: name, FieldKey: key, DataType: "TEXT", Model: "contact", LocationID: l.id}
	l.customFields = append(l.customFields, f)
	return f, nil
}

// listCustomFields answers GET /locations/{locationId}/customFields with
// the location's custom fields (all are contact fields, whatever ?model
// asks).
func (s *Simulator) listCustomFields(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.RLock()
	out := slices.Clone(l.customFields)
	l.mu.RUnlock()
	if out == nil {
		out = []customField{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"customFields": out})
}

// updateContact answers PUT /contacts/{contactId} with 200, the contact
// and "succeded" (sic, as HighLevel spells it). Only customFields are
// applied: each item names the field by id or key and carries
// field_value. A field the location does not define is refused with 400
// (HighLevel's exact answer to an unknown key is not documented).
func (s *Simulator) updateContact(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		CustomFields *[]customFieldInput `json:"customFields"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	id := r.PathValue("contactId")
	v, ok := s.contacts.Load(id)
	if !ok {
		writeBadRequest(w, "Contact not found")
		return
	}
	l := v.(*location)
	if !c.allows(w, l.id) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ct := l.contactByID[id]
	if ct == nil || ct.deleted {
		writeBadRequest(w, "Contact not found")
		return
	}
	if body.CustomFields != nil {
		set, msg := l.customFieldInputs(*body.CustomFields)
		if msg != "" {
			writeBadRequest(w, msg)
			return
		}
		setCustomFields(ct, set)
	}
	writeJSON(w, http.StatusOK, map[string]any{"succeded": true, "contact": ct.Contact})
}

// customFieldValues returns a contact's custom field values by field key,
// for the admin API. Callers hold mu.
func (l *location) customFieldValues(c *contact) map[string]any {
	if len(c.CustomFields) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, v := range c.CustomFields {
		for _, f := range l.customFields {
			if f.ID == v.ID {
				out[f.FieldKey] = v.Value
			}
		}
	}
	return out
}

// customFieldInput sets one custom field, named by id or key, in a
// contact write's body.
type customFieldInput struct {
	ID         string `json:"id"`
	Key        string `json:"key"`
	FieldValue any    `json:"field_value"`
}

// customFieldInputs resolves inputs to the location's fields; a message
// naming the first unknown one. Callers hold mu.
func (l *location) customFieldInputs(inputs []customFieldInput) ([]ghl.CustomField, string) {
	var set []ghl.CustomField
	for i, in := range inputs {
		k := slices.IndexFunc(l.customFields, func(f customField) bool {
			return in.ID != "" && f.ID == in.ID || in.ID == "" && in.Key != "" && (f.FieldKey == in.Key || "contact."+in.Key == f.FieldKey)
		})
		if k < 0 {
			return nil, fmt.Sprintf("customFields[%d]: custom field not found", i)
		}
		set = append(set, ghl.CustomField{ID: l.customFields[k].ID, Value: in.FieldValue})
	}
	return set, ""
}

// setCustomFields sets each of fields on ct. Callers hold mu.
func setCustomFields(ct *contact, fields []ghl.CustomField) {
	for _, f := range fields {
		if j := slices.IndexFunc(ct.CustomFields, func(g ghl.CustomField) bool { return g.ID == f.ID }); j >= 0 {
			ct.CustomFields[j] = f
		} else {
			ct.CustomFields = append(ct.CustomFields, f)
		}
	}
}
