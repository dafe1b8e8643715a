package ghlsim

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Contact search limits HighLevel documents.
const (
	maxPageLimit    = 500
	maxSearchWindow = 10_000
	maxQueryLength  = 75
)

// addTagsToContact answers POST /contacts/{contactId}/tags with 201 and all
// the contact's tags. Tags are stored trimmed and lower case, and a tag new
// to the location joins its tag catalogue.
func (s *Simulator) addTagsToContact(w http.ResponseWriter, r *http.Request, c *call) {
	s.changeContactTags(w, r, c, true)
}

// removeTagsFromContact answers DELETE /contacts/{contactId}/tags (a DELETE
// with a JSON body) with 200 and the contact's remaining tags.
func (s *Simulator) removeTagsFromContact(w http.ResponseWriter, r *http.Request, c *call) {
	s.changeContactTags(w, r, c, false)
}

func (s *Simulator) changeContactTags(w http.ResponseWriter, r *http.Request, c *call, add bool) {
	var body struct {
		Tags *[]string `json:"tags"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	if body.Tags == nil {
		writeUnprocessable(w, "tags must be an array")
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
	ct := l.contactByID[id]
	if ct == nil || ct.deleted {
		l.mu.Unlock()
		writeBadRequest(w, "Contact not found")
		return
	}
	status := http.StatusOK
	before := slices.Clone(ct.Tags)
	if add {
		noteTagWrite(w, id, "add", *body.Tags)
		l.addContactTags(ct, *body.Tags)
		status = http.StatusCreated
	} else {
		noteTagWrite(w, id, "remove", *body.Tags)
		removeContactTags(ct, *body.Tags)
	}
	tags := slices.Clone(ct.Tags)
	if tagsChanged(before, ct) {
		s.emitContact(WebhookContactTagUpdate, ct)
	}
	l.mu.Unlock()
	writeJSON(w, status, ghl.ContactTags{Tags: nonNil(tags)})
}

// bulkContactTags answers POST /contacts/bulk/tags/update/{type} (type add
// or remove) with 201 and one outcome per contact: invalid, unknown,
// deleted and other-location contacts fail alone, the rest are updated.
// succeded is true when no contact failed.
func (s *Simulator) bulkContactTags(w http.ResponseWriter, r *http.Request, c *call) {
	kind := r.PathValue("type")
	if kind != "add" && kind != "remove" {
		writeBadRequest(w, "type must be one of the following values: add, remove")
		return
	}
	var body struct {
		Contacts      *[]string `json:"contacts"`
		Tags          *[]string `json:"tags"`
		LocationID    *string   `json:"locationId"`
		RemoveAllTags bool      `json:"removeAllTags"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	var missing []string
	if body.Contacts == nil {
		missing = append(missing, "contacts must be an array")
	}
	if body.Tags == nil {
		missing = append(missing, "tags must be an array")
	}
	if body.LocationID == nil || *body.LocationID == "" {
		missing = append(missing, "locationId must be a string", "locationId should not be empty")
	}
	if max := s.config.Load().bulkTagsMax; max > 0 && body.Contacts != nil && len(*body.Contacts) > max {
		// An assumed maximum (HighLevel documents none), worded as
		// HighLevel's validation (class-validator's ArrayMaxSize) words
		// its other limits.
		missing = append(missing, fmt.Sprintf("contacts must contain no more than %d elements", max))
	}
	if len(missing) > 0 {
		writeUnprocessable(w, missing...)
		return
	}
	if body.RemoveAllTags && kind != "remove" {
		writeBadRequest(w, "removeAllTags can only be used with remove type")
		return
	}
	if !c.allows(w, *body.LocationID) {
		return
	}

	l := c.loc
	resp := ghl.BulkTagsResponse{Responses: make([]ghl.BulkTagOutcome, 0, len(*body.Contacts))}
	fail := func(id, msg string) {
		resp.ErrorCount++
		resp.Responses = append(resp.Responses, ghl.BulkTagOutcome{ContactID: id, Message: msg, Type: "error"})
	}
	l.mu.Lock()
	for _, id := range *body.Contacts {
		if !isFirebaseID(id) {
			fail(id, "contact id is not a valid firebase id")
			continue
		}
		ct := l.contactByID[id]
		if ct == nil {
			if _, elsewhere := s.contacts.Load(id); elsewhere {
				fail(id, "contact does not belong to location")
			} else {
				fail(id, "contact not found")
			}
			continue
		}
		if ct.deleted {
			fail(id, "contact is deleted")
			continue
		}
		out := ghl.BulkTagOutcome{ContactID: id, Message: "Tags updated", Type: "success",
			OldTags: slices.Clone(ct.Tags), TagsAdded: []string{}, TagsRemoved: []string{}}
		if out.OldTags == nil {
			out.OldTags = []string{}
		}
		if body.RemoveAllTags {
			noteTagWrite(w, id, kind, ct.Tags)
		} else {
			noteTagWrite(w, id, kind, *body.Tags)
		}
		before := slices.Clone(ct.Tags)
		switch {
		case kind == "add":
			out.TagsAdded = l.addContactTags(ct, *body.Tags)
		case body.RemoveAllTags:
			out.TagsRemoved = removeContactTags(ct, slices.Clone(ct.Tags))
		default:
			out.TagsRemoved = removeContactTags(ct, *body.Tags)
		}
		resp.Responses = append(resp.Responses, out)
		if tagsChanged(before, ct) {
			s.emitContact(WebhookContactTagUpdate, ct)
		}
	}
	l.mu.Unlock()
	resp.Succeeded = resp.ErrorCount == 0
	writeJSON(w, http.StatusCreated, resp)
}

// searchFilter is a contact search filter: a condition, or a group of
// filters joined by AND or OR.
type searchFilter struct {
	Field    string         `json:"field"`
	Operator string         `json:"operator"`
	Value    any            `json:"value"`
	Group    string         `json:"group"`
	Filters  []searchFilter `json:"filters"`
}

// searchContacts answers POST /contacts/search with 200: the location's
// contacts that are not deleted and match the filters (AND) and the query,
// newest first, paged by page and pageLimit.
func (s *Simulator) searchContacts(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		LocationID  *string        `json:"locationId"`
		Page        *int           `json:"page"`
		PageLimit   *int           `json:"pageLimit"`
		SearchAfter []any          `json:"searchAfter"`
		Filters     []searchFilter `json:"filters"`
		Query       string         `json:"query"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	var problems []string
	if body.LocationID == nil || *body.LocationID == "" {
		problems = append(problems, "locationId should not be empty")
	}
	switch {
	case body.PageLimit == nil:
		problems = append(problems, "pageLimit must be a number")
	case *body.PageLimit < 1:
		problems = append(problems, "pageLimit must not be less than 1")
	case *body.PageLimit > maxPageLimit:
		problems = append(problems, "pageLimit must not be greater than 500")
	}
	page := 1
	if body.Page != nil {
		page = *body.Page
		if page < 1 {
			problems = append(problems, "page must not be less than 1")
		}
	}
	if len(body.Query) > maxQueryLength {
		problems = append(problems, "query must be shorter than or equal to 75 characters")
	}
	if len(problems) > 0 {
		writeUnprocessable(w, problems...)
		return
	}
	if len(body.SearchAfter) > 0 {
		writeBadRequest(w, "searchAfter is not supported by the simulator; page with page and pageLimit")
		return
	}
	limit := *body.PageLimit
	if page > maxSearchWindow/limit {
		writeBadRequest(w, "page * pageLimit must not exceed 10000; use searchAfter to go further")
		return
	}
	if msg := checkFilters(body.Filters); msg != "" {
		writeUnprocessable(w, msg)
		return
	}
	if !c.allows(w, *body.LocationID) {
		return
	}

	query := strings.ToLower(strings.TrimSpace(body.Query))
	l := c.loc
	now, lag := s.now(), s.config.Load().searchIndexLag
	var matched []ghl.Contact
	l.mu.RLock()
	for _, ct := range l.contacts {
		if ct.deleted || !ct.indexed(now, lag) || !matchesAll(ct, body.Filters) || (query != "" && !matchesQuery(ct, query)) {
			continue
		}
		cp := ct.Contact
		cp.Tags = slices.Clone(ct.Tags)
		if cp.Tags == nil {
			cp.Tags = []string{}
		}
		matched = append(matched, cp)
	}
	l.mu.RUnlock()
	slices.SortStableFunc(matched, func(a, b ghl.Contact) int {
		if c := strings.Compare(b.DateAdded, a.DateAdded); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	writeJSON(w, http.StatusOK, ghl.SearchContactsResponse{
		Contacts: nonNil(pageOf(matched, (page-1)*limit, limit)), Total: len(matched), TraceID: newTraceID(),
	})
}

// checkFilters returns a message about the first filter the simulator
// cannot evaluate, or "".
func checkFilters(filters []searchFilter) string {
	for i, f := range filters {
		at := "filters." + strconv.Itoa(i)
		if f.Group != "" || len(f.Filters) > 0 {
			if f.Group != "AND" && f.Group != "OR" {
				return at + ".group must be one of the following values: AND, OR"
			}
			if msg := checkFilters(f.Filters); msg != "" {
				return at + "." + msg
			}
			continue
		}
		switch f.Field {
		case "tags", "id", "email", "firstName", "lastName", "phone", "firstNameLowerCase", "lastNameLowerCase":
		default:
			if id, ok := strings.CutPrefix(f.Field, "customFields."); ok && id != "" {
				break
			}
			return at + ".field " + quote(f.Field) + " is not supported by the simulator"
		}
		switch f.Operator {
		case "eq", "not_eq", "contains", "not_contains", "exists", "not_exists":
		default:
			return at + ".operator must be one of the following values: eq, not_eq, contains, not_contains, exists, not_exists"
		}
	}
	return ""
}

// matchesAll reports whether ct passes every filter.
func matchesAll(ct *contact, filters []searchFilter) bool {
	for _, f := range filters {
		if !matches(ct, f) {
			return false
		}
	}
	return true
}

// matches evaluates one filter or group.
func matches(ct *contact, f searchFilter) bool {
	if f.Group == "OR" {
		for _, sub := range f.Filters {
			if matches(ct, sub) {
				return true
			}
		}
		return false
	}
	if f.Group == "AND" {
		return matchesAll(ct, f.Filters)
	}
	var values []string
	switch f.Field {
	case "tags":
		values = ct.Tags
	case "id":
		values = []string{ct.ID}
	case "email":
		values = nonEmpty(ct.Email)
	case "firstName", "firstNameLowerCase":
		values = nonEmpty(ct.FirstName)
	case "lastName", "lastNameLowerCase":
		values = nonEmpty(ct.LastName)
	case "phone":
		values = nonEmpty(ct.Phone)
	default:
		// "customFields.<field id>": the simulator's assumption of how
		// a search names a custom field (HighLevel does not document it).
		if id, ok := strings.CutPrefix(f.Field, "customFields."); ok {
			for _, cf := range ct.CustomFields {
				if s, isString := cf.Value.(string); isString && cf.ID == id && s != "" {
					values = append(values, s)
				}
			}
		}
	}
	wanted := filterValues(f.Value)
	anyValue := func(pred func(v, want string) bool) bool {
		for _, v := range values {
			for _, want := range wanted {
				if pred(strings.ToLower(v), want) {
					return true
				}
			}
		}
		return false
	}
	equal := func(v, want string) bool { return v == want }
	switch f.Operator {
	case "eq":
		return anyValue(equal)
	case "not_eq":
		return !anyValue(equal)
	case "contains":
		return anyValue(strings.Contains)
	case "not_contains":
		return !anyValue(strings.Contains)
	case "exists":
		return len(values) > 0
	case "not_exists":
		return len(values) == 0
	}
	return false
}

// filterValues turns a filter value (a string or an array of strings) into
// lower-case strings.
func filterValues(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{strings.ToLower(strings.TrimSpace(x))}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, strings.ToLower(strings.TrimSpace(s)))
			}
		}
		return out
	}
	return nil
}

// matchesQuery reports whether the free-text query matches a name, e-mail
// or phone number.
func matchesQuery(ct *contact, query string) bool {
	for _, v := range []string{ct.FirstName + " " + ct.LastName, ct.Email, ct.Phone, ct.ID} {
		if strings.Contains(strings.ToLower(v), query) {
			return true
		}
	}
	return false
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
