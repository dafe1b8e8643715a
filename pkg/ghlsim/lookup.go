package ghlsim

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// duplicateContact answers GET /contacts/search/duplicate with 200 and
// {"contact": <the contact>} for the location's contact whose email
// (case-insensitive) or, without email, phone number matches; with
// {"contact": null} when none does. Like HighLevel it reads the search
// index: a contact created less than searchIndexLag ago is not found.
// HighLevel's 200 has no schema; the simulator's answer is its assumption.
func (s *Simulator) duplicateContact(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	loc, email, phone := q.Get("locationId"), strings.TrimSpace(q.Get("email")), strings.TrimSpace(q.Get("number"))
	if loc == "" {
		writeUnprocessable(w, "locationId should not be empty")
		return
	}
	if email == "" && phone == "" {
		writeBadRequest(w, "email or number is required")
		return
	}
	if !c.allows(w, loc) {
		return
	}
	l := c.loc
	now, lag := s.now(), s.config.Load().searchIndexLag
	l.mu.RLock()
	ct := l.findContact(email, phone, func(ct *contact) bool { return ct.indexed(now, lag) })
	var out *ghl.Contact
	if ct != nil {
		cp := ct.Contact
		cp.Tags = nonNil(slices.Clone(ct.Tags))
		out = &cp
	}
	l.mu.RUnlock()
	writeJSON(w, http.StatusOK, ghl.DuplicateContactResponse{Contact: out, TraceID: newTraceID()})
}

// findContact returns the live contact with email (case-insensitive) or,
// without email, phone number that visible accepts; nil when none does.
// Callers hold mu.
func (l *location) findContact(email, phone string, visible func(*contact) bool) *contact {
	for _, ct := range l.contacts {
		if ct.deleted || !visible(ct) {
			continue
		}
		if email != "" && strings.EqualFold(ct.Email, email) || email == "" && phone != "" && ct.Phone == phone {
			return ct
		}
	}
	return nil
}

// upsertContact answers POST /contacts/upsert with 200 {new, contact}: it
// updates the location's contact with the body's email (else phone
// number), found without waiting for the search index, or creates one.
// As at HighLevel, tags in the body replace all of the contact's tags.
func (s *Simulator) upsertContact(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		LocationID   *string            `json:"locationId"`
		Email        string             `json:"email"`
		Phone        string             `json:"phone"`
		FirstName    string             `json:"firstName"`
		LastName     string             `json:"lastName"`
		Source       string             `json:"source"`
		Tags         *[]string          `json:"tags"`
		CustomFields []customFieldInput `json:"customFields"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	if body.LocationID == nil || *body.LocationID == "" {
		writeUnprocessable(w, "locationId should not be empty")
		return
	}
	email, phone := strings.TrimSpace(body.Email), strings.TrimSpace(body.Phone)
	if email == "" && phone == "" {
		// HighLevel's answer here is not documented; a contact that
		// nothing identifies cannot be matched again.
		writeBadRequest(w, "email or phone is required")
		return
	}
	if !c.allows(w, *body.LocationID) {
		return
	}
	l := c.loc
	s.createMu.Lock()
	defer s.createMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	fields, msg := l.customFieldInputs(body.CustomFields)
	if msg != "" {
		writeBadRequest(w, msg)
		return
	}
	ct := l.findContact(email, phone, func(*contact) bool { return true })
	created := ct == nil
	if created {
		id := ""
		for id == "" || s.contactExists(id) {
			id = alnumID(l.rng, 20)
		}
		at := s.now().UTC().Truncate(time.Millisecond)
		ct = l.addContact(contactSpec{ID: id, FirstName: body.FirstName, LastName: body.LastName, Email: email}, at)
		ct.createdAt = at
		if body.Source != "" {
			ct.Source = body.Source
		}
		s.contacts.Store(id, l)
	}
	if ct.Email == "" {
		ct.Email = email
	}
	if phone != "" {
		ct.Phone = phone
	}
	setCustomFields(ct, fields)
	if body.Tags != nil {
		// "This field will overwrite all current tags associated with
		// the contact."
		noteTagWrite(w, ct.ID, "replace", *body.Tags)
		before := slices.Clone(ct.Tags)
		removeContactTags(ct, slices.Clone(ct.Tags))
		l.addContactTags(ct, *body.Tags)
		if !created && tagsChanged(before, ct) {
			s.emitContact(WebhookContactTagUpdate, ct)
		}
	}
	cp := ct.Contact
	cp.Tags = nonNil(slices.Clone(ct.Tags))
	writeJSON(w, http.StatusOK, ghl.UpsertContactResponse{New: created, Contact: cp, TraceID: newTraceID()})
}
