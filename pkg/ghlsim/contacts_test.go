package ghlsim

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// contactOf returns the admin view of a contact.
func (e *env) contactOf(locationID, id string) ContactView {
	e.t.Helper()
	for _, c := range e.detail(locationID).Contacts {
		if c.ID == id {
			return c
		}
	}
	e.t.Fatalf("contact %s not in location %s", id, locationID)
	return ContactView{}
}

// newContact creates a contact through the admin API.
func (e *env) newContact(locationID string, tags ...string) ContactView {
	e.t.Helper()
	var c ContactView
	e.admin("POST", "/_sandbox/locations/"+locationID+"/contacts", map[string]any{"tags": tags}).
		want(e.t, http.StatusCreated).decode(e.t, &c)
	return c
}

func TestContactTags(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	c := e.newContact(loc.ID, "existing")
	path := "/contacts/" + c.ID + "/tags"

	var added ghl.ContactTags
	e.api("POST", path, loc.Token, ghl.ContactTags{Tags: []string{"Summer Sale", " existing ", "brand-new-tag"}}).
		want(t, http.StatusCreated).decode(t, &added)
	want := []string{"existing", "summer sale", "brand-new-tag"}
	if diff := cmp.Diff(want, added.Tags); diff != "" {
		t.Errorf("tags after add (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, e.contactOf(loc.ID, c.ID).Tags); diff != "" {
		t.Errorf("stored tags (-want +got):\n%s", diff)
	}
	// New tag names join the location's tag catalogue.
	var catalogue ghl.LocationTagsResponse
	e.api("GET", "/locations/"+loc.ID+"/tags", loc.Token, nil).want(t, http.StatusOK).decode(t, &catalogue)
	if !slices.ContainsFunc(catalogue.Tags, func(tg ghl.LocationTag) bool { return tg.Name == "brand-new-tag" && tg.LocationID == loc.ID }) {
		t.Errorf("brand-new-tag is not in the location catalogue")
	}

	var removed ghl.ContactTags
	e.api("DELETE", path, loc.Token, ghl.ContactTags{Tags: []string{"EXISTING", "not-there"}}).
		want(t, http.StatusOK).decode(t, &removed)
	if diff := cmp.Diff([]string{"summer sale", "brand-new-tag"}, removed.Tags); diff != "" {
		t.Errorf("tags after delete (-want +got):\n%s", diff)
	}

	t.Run("errors", func(t *testing.T) {
		other := e.newContact(e.loc(1).ID)
		deleted := e.newContact(loc.ID)
		e.admin("DELETE", "/_sandbox/locations/"+loc.ID+"/contacts/"+deleted.ID, nil).want(t, http.StatusOK)
		tests := []struct {
			name, method, contact string
			body                  any
			status                int
			msg                   string
		}{
			{"unknown", "POST", "AAAAAAAAAAAAAAAAAAAA", ghl.ContactTags{Tags: []string{"x"}}, http.StatusBadRequest, "Contact not found"},
			{"deleted", "POST", deleted.ID, ghl.ContactTags{Tags: []string{"x"}}, http.StatusBadRequest, "Contact not found"},
			{"other location", "POST", other.ID, ghl.ContactTags{Tags: []string{"x"}}, http.StatusForbidden, msgNoLocation},
			{"other location delete", "DELETE", other.ID, ghl.ContactTags{Tags: []string{"x"}}, http.StatusForbidden, msgNoLocation},
			{"missing tags", "POST", c.ID, map[string]any{}, http.StatusUnprocessableEntity, "tags"},
			{"tags not array", "DELETE", c.ID, map[string]any{"tags": "x"}, http.StatusUnprocessableEntity, "tags"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.api(tt.method, "/contacts/"+tt.contact+"/tags", loc.Token, tt.body).wantError(t, tt.status, tt.msg)
			})
		}
		if got := e.contactOf(e.loc(1).ID, other.ID).Tags; len(got) != 0 {
			t.Errorf("other location's contact changed: %v", got)
		}
	})
}

func TestBulkContactTags(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	a := e.newContact(loc.ID, "keep", "drop")
	b := e.newContact(loc.ID)
	gone := e.newContact(loc.ID, "x")
	e.admin("DELETE", "/_sandbox/locations/"+loc.ID+"/contacts/"+gone.ID, nil).want(t, http.StatusOK)
	elsewhere := e.newContact(e.loc(1).ID)

	body := ghl.BulkTagsRequest{
		Contacts:   []string{a.ID, "abcdef", gone.ID, elsewhere.ID, b.ID, "ZZZZZZZZZZZZZZZZZZZZ"},
		Tags:       []string{"Promo", "keep"},
		LocationID: loc.ID,
	}
	var got ghl.BulkTagsResponse
	e.api("POST", "/contacts/bulk/tags/update/add", loc.Token, body).want(t, http.StatusCreated).decode(t, &got)
	want := ghl.BulkTagsResponse{
		Succeeded: false, ErrorCount: 4,
		Responses: []ghl.BulkTagOutcome{
			{ContactID: a.ID, Message: "Tags updated", Type: "success", OldTags: []string{"keep", "drop"}, TagsAdded: []string{"promo"}, TagsRemoved: []string{}},
			{ContactID: "abcdef", Message: "contact id is not a valid firebase id", Type: "error"},
			{ContactID: gone.ID, Message: "contact is deleted", Type: "error"},
			{ContactID: elsewhere.ID, Message: "contact does not belong to location", Type: "error"},
			{ContactID: b.ID, Message: "Tags updated", Type: "success", OldTags: []string{}, TagsAdded: []string{"promo", "keep"}, TagsRemoved: []string{}},
			{ContactID: "ZZZZZZZZZZZZZZZZZZZZ", Message: "contact not found", Type: "error"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bulk add (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"keep", "drop", "promo"}, e.contactOf(loc.ID, a.ID).Tags); diff != "" {
		t.Errorf("contact a (-want +got):\n%s", diff)
	}
	if got := e.contactOf(e.loc(1).ID, elsewhere.ID).Tags; len(got) != 0 {
		t.Errorf("the other location's contact was changed: %v", got)
	}

	t.Run("success shape on the wire", func(t *testing.T) {
		r := e.api("POST", "/contacts/bulk/tags/update/remove", loc.Token,
			ghl.BulkTagsRequest{Contacts: []string{b.ID, "abcdef"}, Tags: []string{"keep"}, LocationID: loc.ID}).want(t, http.StatusCreated)
		m := r.object(t)
		responses := m["responses"].([]any)
		ok, bad := responses[0].(map[string]any), responses[1].(map[string]any)
		if _, has := ok["tagsAdded"]; !has {
			t.Errorf("success outcome lacks tagsAdded: %s", r.body)
		}
		if _, has := bad["oldTags"]; has {
			t.Errorf("error outcome has oldTags: %s", r.body)
		}
		if m["succeded"] != false || m["errorCount"] != float64(1) {
			t.Errorf("body = %s", r.body)
		}
	})
	t.Run("remove all", func(t *testing.T) {
		var res ghl.BulkTagsResponse
		e.api("POST", "/contacts/bulk/tags/update/remove", loc.Token,
			ghl.BulkTagsRequest{Contacts: []string{a.ID}, Tags: []string{}, LocationID: loc.ID, RemoveAllTags: true}).
			want(t, http.StatusCreated).decode(t, &res)
		if !res.Succeeded || res.ErrorCount != 0 || !slices.Equal(res.Responses[0].TagsRemoved, []string{"keep", "drop", "promo"}) {
			t.Errorf("remove all = %+v", res)
		}
		if got := e.contactOf(loc.ID, a.ID).Tags; len(got) != 0 {
			t.Errorf("tags left: %v", got)
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, kind string
			body       any
			status     int
			msg        string
		}{
			{"type", "replace", body, http.StatusBadRequest, "type must be one of"},
			{"removeAllTags with add", "add", ghl.BulkTagsRequest{Contacts: []string{a.ID}, Tags: []string{}, LocationID: loc.ID, RemoveAllTags: true}, http.StatusBadRequest, "removeAllTags"},
			{"missing contacts", "add", map[string]any{"tags": []string{"x"}, "locationId": loc.ID}, http.StatusUnprocessableEntity, "contacts"},
			{"missing location", "add", map[string]any{"tags": []string{"x"}, "contacts": []string{}}, http.StatusUnprocessableEntity, "locationId"},
			{"other location", "add", ghl.BulkTagsRequest{Contacts: []string{a.ID}, Tags: []string{"x"}, LocationID: e.loc(1).ID}, http.StatusForbidden, msgNoLocation},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.api("POST", "/contacts/bulk/tags/update/"+tt.kind, loc.Token, tt.body).wantError(t, tt.status, tt.msg)
			})
		}
	})
}

func TestSearchContacts(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	d := e.detail(loc.ID)
	wantVIP := map[string]bool{}
	live := 0
	for _, c := range d.Contacts {
		if c.Deleted {
			continue
		}
		live++
		if slices.Contains(c.Tags, "vip") {
			wantVIP[c.ID] = true
		}
	}
	search := func(t *testing.T, body map[string]any) ghl.SearchContactsResponse {
		t.Helper()
		body["locationId"] = loc.ID
		var res ghl.SearchContactsResponse
		e.api("POST", "/contacts/search", loc.Token, body).want(t, http.StatusOK).decode(t, &res)
		if res.TraceID == "" {
			t.Error("no traceId")
		}
		return res
	}

	t.Run("pages", func(t *testing.T) {
		seen := map[string]bool{}
		for page := 1; ; page++ {
			res := search(t, map[string]any{"page": page, "pageLimit": 100})
			if res.Total != live {
				t.Fatalf("total = %d, want %d live contacts", res.Total, live)
			}
			for _, c := range res.Contacts {
				if seen[c.ID] || c.LocationID != loc.ID {
					t.Fatalf("contact %s repeated or foreign", c.ID)
				}
				seen[c.ID] = true
			}
			if len(res.Contacts) < 100 {
				break
			}
		}
		if len(seen) != live {
			t.Errorf("pages held %d contacts, want %d", len(seen), live)
		}
	})
	t.Run("tag filter", func(t *testing.T) {
		res := search(t, map[string]any{"pageLimit": 500, "filters": []map[string]any{{"field": "tags", "operator": "eq", "value": "VIP"}}})
		got := map[string]bool{}
		for _, c := range res.Contacts {
			got[c.ID] = true
		}
		if len(wantVIP) == 0 || res.Total != len(wantVIP) {
			t.Fatalf("total = %d, want %d", res.Total, len(wantVIP))
		}
		if diff := cmp.Diff(wantVIP, got); diff != "" {
			t.Errorf("vip contacts (-want +got):\n%s", diff)
		}
		none := search(t, map[string]any{"pageLimit": 500, "filters": []map[string]any{{"field": "tags", "operator": "not_eq", "value": "vip"}}})
		if none.Total != live-len(wantVIP) {
			t.Errorf("not_eq total = %d, want %d", none.Total, live-len(wantVIP))
		}
	})
	t.Run("query", func(t *testing.T) {
		c := e.newContact(loc.ID)
		res := search(t, map[string]any{"pageLimit": 10, "query": strings.ToLower(c.ID)})
		if res.Total != 1 || res.Contacts[0].ID != c.ID {
			t.Errorf("query by id = %+v", res)
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name   string
			body   map[string]any
			status int
			msg    string
		}{
			{"no pageLimit", map[string]any{"locationId": loc.ID}, http.StatusUnprocessableEntity, "pageLimit"},
			{"no locationId", map[string]any{"pageLimit": 10}, http.StatusUnprocessableEntity, "locationId"},
			{"pageLimit too big", map[string]any{"locationId": loc.ID, "pageLimit": 501}, http.StatusUnprocessableEntity, "pageLimit must not be greater than 500"},
			{"beyond 10000", map[string]any{"locationId": loc.ID, "pageLimit": 500, "page": 21}, http.StatusBadRequest, "10000"},
			{"huge page", map[string]any{"locationId": loc.ID, "pageLimit": 500, "page": 9223372036854775807}, http.StatusBadRequest, "10000"},
			{"bad operator", map[string]any{"locationId": loc.ID, "pageLimit": 1, "filters": []map[string]any{{"field": "tags", "operator": "like", "value": "x"}}}, http.StatusUnprocessableEntity, "operator"},
			{"other location", map[string]any{"locationId": e.loc(1).ID, "pageLimit": 10}, http.StatusForbidden, msgNoLocation},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.api("POST", "/contacts/search", loc.Token, tt.body).wantError(t, tt.status, tt.msg)
			})
		}
	})
}

// The request log names each contact a tag call asked to change, so tests
// elsewhere can prove no write was repeated.
func TestRequestLogRecordsTagWrites(t *testing.T) {
	e := newEnv(t, "empty")
	var loc struct{ ID, Token string }
	e.admin("POST", "/_sandbox/locations", map[string]any{"contacts": []map[string]any{
		{"id": "aaaaaaaaaaaaaaaaaaa1"}, {"id": "aaaaaaaaaaaaaaaaaaa2"}}}).want(t, http.StatusCreated).decode(t, &loc)
	e.api("POST", "/contacts/aaaaaaaaaaaaaaaaaaa1/tags", loc.Token, map[string]any{"tags": []string{"x"}}).want(t, http.StatusCreated)
	e.api("POST", "/contacts/bulk/tags/update/remove", loc.Token, map[string]any{
		"locationId": loc.ID, "contacts": []string{"aaaaaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaaaaa2"}, "tags": []string{"x"}}).want(t, http.StatusCreated)
	var log struct {
		Requests []struct {
			TagWrites []struct {
				ContactID string   `json:"contactId"`
				Op        string   `json:"op"`
				Tags      []string `json:"tags"`
			} `json:"tagWrites"`
		} `json:"requests"`
	}
	e.admin("GET", "/_sandbox/requests?location="+loc.ID, nil).want(t, http.StatusOK).decode(t, &log)
	var got []string
	for _, r := range log.Requests {
		for _, w := range r.TagWrites {
			got = append(got, w.Op+" "+w.ContactID+" "+strings.Join(w.Tags, ","))
		}
	}
	want := []string{"add aaaaaaaaaaaaaaaaaaa1 x", "remove aaaaaaaaaaaaaaaaaaa1 x", "remove aaaaaaaaaaaaaaaaaaa2 x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("tag writes = %q, want %q", got, want)
	}
}

// With bulkTagsMax set (an assumption: HighLevel documents no maximum), a
// bulk call with more contacts is refused whole with a 422 that names the
// maximum; one at the maximum goes through.
func TestBulkContactTagsMaximum(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	var ids []string
	for range 3 {
		ids = append(ids, e.newContact(loc.ID).ID)
	}
	e.setConfig(`{"bulkTagsMax":2}`)
	e.api("POST", "/contacts/bulk/tags/update/add", loc.Token,
		ghl.BulkTagsRequest{Contacts: ids, Tags: []string{"x"}, LocationID: loc.ID}).
		wantError(t, http.StatusUnprocessableEntity, "contacts must contain no more than 2 elements")
	for _, id := range ids {
		if got := e.contactOf(loc.ID, id).Tags; len(got) != 0 {
			t.Errorf("contact %s of a refused call got tags %v", id, got)
		}
	}
	e.api("POST", "/contacts/bulk/tags/update/add", loc.Token,
		ghl.BulkTagsRequest{Contacts: ids[:2], Tags: []string{"x"}, LocationID: loc.ID}).want(t, http.StatusCreated)
	if got := e.contactOf(loc.ID, ids[1]).Tags; !slices.Equal(got, []string{"x"}) {
		t.Errorf("tags after a call at the maximum = %v", got)
	}
	e.setConfig(`{"bulkTagsMax":0}`)
	e.api("POST", "/contacts/bulk/tags/update/add", loc.Token,
		ghl.BulkTagsRequest{Contacts: ids, Tags: []string{"y"}, LocationID: loc.ID}).want(t, http.StatusCreated)
}
