package ghl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// CustomFieldInput sets one contact custom field. HighLevel's prose
// allows naming it by key, but its schema requires the id: socialsync
// sends ids (see ContactCustomFields).
type CustomFieldInput struct {
	ID         string `json:"id,omitempty"`
	Key        string `json:"key,omitempty"`
	FieldValue string `json:"field_value"`
}

// UpdateContactBody is the part of PUT /contacts/{contactId}'s body
// socialsync sends: custom fields only, so nothing else of the contact
// changes.
type UpdateContactBody struct {
	CustomFields []CustomFieldInput `json:"customFields"`
}

// UpdateContactResponse is PUT /contacts/{contactId}'s answer ("succeded"
// is HighLevel's spelling).
type UpdateContactResponse struct {
	Succeded bool    `json:"succeded"`
	Contact  Contact `json:"contact"`
}

// SetContactCustomFields sets custom fields of a contact (PUT
// /contacts/{contactId}, 200). Setting is idempotent, so it is retried
// like a read. Use ForLocation so the call is attributed to the contact's
// location.
func (c *Client) SetContactCustomFields(ctx context.Context, contactID string, fields []CustomFieldInput) (Contact, error) {
	if len(fields) == 0 {
		return Contact{}, fmt.Errorf("%w: PUT /contacts/{contactId}: no custom fields", ErrInvalidArgument)
	}
	var out UpdateContactResponse
	err := c.do(ctx, request{
		method:   http.MethodPut,
		template: "/contacts/{contactId}",
		args:     []string{contactID},
		body:     UpdateContactBody{CustomFields: fields},
	}, &out)
	if err != nil {
		return Contact{}, err
	}
	return out.Contact, nil
}

// CustomFieldDef is a custom field's definition.
type CustomFieldDef struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	FieldKey   string `json:"fieldKey"`
	DataType   string `json:"dataType,omitempty"`
	Model      string `json:"model,omitempty"`
	LocationID string `json:"locationId,omitempty"`
}

// CustomFieldsResponse is GET /locations/{locationId}/customFields's answer.
type CustomFieldsResponse struct {
	CustomFields []CustomFieldDef `json:"customFields"`
}

// ContactCustomFields returns the location's contact custom fields (GET
// /locations/{locationId}/customFields?model=contact, scope
// locations/customFields.readonly). The update call's schema names a field
// by id, so keys are resolved through this list.
func (c *Client) ContactCustomFields(ctx context.Context, loc string) ([]CustomFieldDef, error) {
	var out CustomFieldsResponse
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/locations/{locationId}/customFields",
		args:     []string{loc},
		query:    url.Values{"model": {"contact"}},
		location: loc,
	}, &out)
	if err != nil {
		return nil, err
	}
	return out.CustomFields, nil
}
