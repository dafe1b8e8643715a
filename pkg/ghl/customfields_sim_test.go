package ghl_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Setting a contact's custom fields by key passes the contract checks,
// reaches the contact, and an undefined field is refused.
func TestSimContactCustomFields(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	var created struct{ ID, Token string }
	sb.admin(http.MethodPost, "/_sandbox/locations", map[string]any{
		"contacts": []map[string]any{{"tags": []string{}}}, "customFields": []string{"contact.social_tags"},
	}, &created, 0)
	contact := sb.location(created.ID).Contacts[0].ID
	c := sb.client(created.Token, ghl.Options{}).ForLocation(created.ID, nil)
	ctx := context.Background()

	defs, err := c.ContactCustomFields(ctx, created.ID)
	if err != nil || len(defs) != 1 || defs[0].FieldKey != "contact.social_tags" || defs[0].ID == "" {
		t.Fatalf("ContactCustomFields = %+v, %v", defs, err)
	}
	got, err := c.SetContactCustomFields(ctx, contact, []ghl.CustomFieldInput{{ID: defs[0].ID, FieldValue: "promo, tips"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != contact || len(got.CustomFields) != 1 || got.CustomFields[0].Value != "promo, tips" {
		t.Errorf("contact after update %+v", got)
	}
	state := sb.location(created.ID)
	if v := state.Contacts[0].CustomFields["contact.social_tags"]; v != "promo, tips" {
		t.Errorf("admin API shows %v", state.Contacts[0].CustomFields)
	}
	_, err = c.SetContactCustomFields(ctx, contact, []ghl.CustomFieldInput{{ID: "nope0000000000000000", FieldValue: "x"}})
	var apiErr *ghl.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest {
		t.Errorf("undefined field: %v, want a 400", err)
	}
	if _, err := c.SetContactCustomFields(ctx, contact, nil); !errors.Is(err, ghl.ErrInvalidArgument) {
		t.Errorf("no fields: %v", err)
	}
}
