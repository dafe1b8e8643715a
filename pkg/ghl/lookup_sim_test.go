package ghl_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Contacts are found by email, phone and an external id in a custom
// field, and created by upsert once: the duplicate lookup and the search
// read the (lagging) search index, upsert does not. Every exchange is
// checked against HighLevel's OpenAPI files (sandbox.tr).
func TestSimFindAndUpsertContacts(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	var created struct{ ID, Token string }
	sb.admin(http.MethodPost, "/_sandbox/locations", map[string]any{
		"contacts": []map[string]any{{"email": "Old@Example.com", "tags": []string{"kept"}}}, "customFields": []string{"contact.crm_id"},
	}, &created, http.StatusCreated)
	loc := created.ID
	c := sb.client(created.Token, ghl.Options{}).ForLocation(loc, nil)
	ctx := context.Background()
	old := sb.location(loc).Contacts[0].ID

	// An existing contact by email, case-insensitively.
	got, found, err := c.DuplicateContact(ctx, loc, "old@example.com", "")
	if err != nil || !found || got.ID != old {
		t.Fatalf("DuplicateContact(old) = %+v, %v, %v; want %s", got, found, err, old)
	}
	if _, found, err := c.DuplicateContact(ctx, loc, "new@example.com", ""); err != nil || found {
		t.Fatalf("DuplicateContact(new) = %v, %v; want none", found, err)
	}

	// An upsert of an existing contact keeps its tags: the body has none.
	up, err := c.UpsertContact(ctx, ghl.UpsertContactRequest{LocationID: loc, Email: "OLD@example.com"})
	if err != nil || up.New || up.Contact.ID != old {
		t.Fatalf("UpsertContact(old) = %+v, %v", up, err)
	}
	if tags := sb.contactTags(loc, old); len(tags) != 1 || tags[0] != "kept" {
		t.Errorf("tags after upsert = %v, want [kept]", tags)
	}

	// A new contact, while the search index lags an hour: two upserts
	// make one contact, and neither lookup sees it until the index does.
	sb.config(map[string]any{"searchIndexLag": "1h"})
	first, err := c.UpsertContact(ctx, ghl.UpsertContactRequest{LocationID: loc, Phone: "+14155550100"})
	if err != nil || !first.New {
		t.Fatalf("UpsertContact(phone) = %+v, %v", first, err)
	}
	again, err := c.UpsertContact(ctx, ghl.UpsertContactRequest{LocationID: loc, Phone: "+14155550100"})
	if err != nil || again.New || again.Contact.ID != first.Contact.ID {
		t.Fatalf("second UpsertContact(phone) = %+v, %v; want %s again", again, err, first.Contact.ID)
	}
	if _, found, err := c.DuplicateContact(ctx, loc, "", "+14155550100"); err != nil || found {
		t.Fatalf("DuplicateContact(phone) during the lag = %v, %v; want none", found, err)
	}
	sb.config(map[string]any{"searchIndexLag": "0s"})
	if got, found, err := c.DuplicateContact(ctx, loc, "", "+14155550100"); err != nil || !found || got.ID != first.Contact.ID {
		t.Fatalf("DuplicateContact(phone) = %+v, %v, %v; want %s", got, found, err, first.Contact.ID)
	}

	// An external id in a custom field, by the assumed search filter.
	defs, err := c.ContactCustomFields(ctx, loc)
	if err != nil || len(defs) != 1 {
		t.Fatalf("ContactCustomFields = %+v, %v", defs, err)
	}
	if _, err := c.SetContactCustomFields(ctx, old, []ghl.CustomFieldInput{{ID: defs[0].ID, FieldValue: "CRM-42"}}); err != nil {
		t.Fatal(err)
	}
	res, err := c.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: loc, PageLimit: 2,
		Filters: []ghl.SearchFilter{ghl.ExternalIDFilter(defs[0].ID, "CRM-42")}})
	if err != nil || res.Total != 1 || res.Contacts[0].ID != old {
		t.Fatalf("search by external id = %+v, %v; want %s", res, err, old)
	}

	// An email or phone number never reaches an error.
	other, _ := sb.createLocation(locationSpec{})
	_, _, err = c.DuplicateContact(ctx, other, "secret.person+x@example.com", "")
	if err == nil {
		t.Fatal("DuplicateContact for another location succeeded")
	}
	_, err = c.UpsertContact(ctx, ghl.UpsertContactRequest{LocationID: other, Phone: "+14155550199"})
	if err == nil {
		t.Fatal("UpsertContact for another location succeeded")
	}
	var apiErr *ghl.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("UpsertContact error %v is no *ghl.Error", err)
	}
	for _, s := range []string{"secret.person", "14155550199"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q names the contact", err)
		}
	}
	if _, _, err := c.DuplicateContact(ctx, loc, "", ""); !errors.Is(err, ghl.ErrInvalidArgument) {
		t.Errorf("DuplicateContact without email and phone = %v, want ErrInvalidArgument", err)
	}
}
