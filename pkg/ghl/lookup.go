package ghl

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Finding and creating contacts by what other systems know of them. An
// email or a phone number is personal data: it travels in the request
// only, and is redacted from every error (request.secrets), as a token is.

// DuplicateContactResponse is the answer of GET /contacts/search/duplicate.
// The OpenAPI file gives its 200 no schema: socialsync reads it as
// {"contact": {...}}, with a null or absent contact when none matches
// (the simulator answers so).
type DuplicateContactResponse struct {
	Contact *Contact `json:"contact"`
	TraceID string   `json:"traceId,omitempty"`
}

// DuplicateContact finds the location's contact with email or, when
// email is empty, phone number (GET /contacts/search/duplicate, scope
// contacts.readonly). found is false when none matches. HighLevel reads
// it through its search index: a contact created seconds ago may not be
// found yet.
func (c *Client) DuplicateContact(ctx context.Context, loc, email, phone string) (Contact, bool, error) {
	q := url.Values{"locationId": {loc}}
	var secret string
	switch {
	case loc == "":
		return Contact{}, false, fmt.Errorf("%w: duplicate contact: empty locationId", ErrInvalidArgument)
	case email != "":
		q.Set("email", email)
		secret = email
	case phone != "":
		q.Set("number", phone)
		secret = phone
	default:
		return Contact{}, false, fmt.Errorf("%w: duplicate contact: no email and no phone", ErrInvalidArgument)
	}
	var out DuplicateContactResponse
	err := c.do(ctx, request{
		method:   http.MethodGet,
		template: "/contacts/search/duplicate",
		query:    q,
		location: loc,
		secrets:  []string{secret, url.QueryEscape(secret)},
	}, &out)
	if err != nil {
		return Contact{}, false, err
	}
	if out.Contact == nil || out.Contact.ID == "" {
		return Contact{}, false, nil
	}
	return *out.Contact, true, nil
}

// UpsertContactRequest is the part of POST /contacts/upsert's body
// socialsync sends. It has no tags on purpose: tags in an upsert replace
// all of a contact's tags; socialsync adds its tags with AddContactTags.
type UpsertContactRequest struct {
	LocationID   string             `json:"locationId"`
	Email        string             `json:"email,omitempty"`
	Phone        string             `json:"phone,omitempty"`
	Source       string             `json:"source,omitempty"`
	CustomFields []CustomFieldInput `json:"customFields,omitempty"`
}

// UpsertContactResponse is POST /contacts/upsert's answer: New is true
// when the contact was created.
type UpsertContactResponse struct {
	New     bool    `json:"new"`
	Contact Contact `json:"contact"`
	TraceID string  `json:"traceId,omitempty"`
}

// UpsertContact creates the location's contact with the email or phone
// number of req, or updates the one HighLevel already holds (POST
// /contacts/upsert, 200, scope contacts.write). HighLevel matches an
// existing contact by email and phone, in the order of the location's
// "Allow Duplicate Contact" setting, without waiting for its search
// index: two upserts of the same email make one contact, which is why a
// retry after a lost answer is safe.
func (c *Client) UpsertContact(ctx context.Context, req UpsertContactRequest) (UpsertContactResponse, error) {
	if req.LocationID == "" {
		req.LocationID = c.location
	}
	switch {
	case req.LocationID == "":
		return UpsertContactResponse{}, fmt.Errorf("%w: upsert contact: empty locationId", ErrInvalidArgument)
	case req.Email == "" && req.Phone == "":
		return UpsertContactResponse{}, fmt.Errorf("%w: upsert contact: no email and no phone", ErrInvalidArgument)
	}
	var secrets []string
	for _, s := range []string{req.Email, req.Phone} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	var out UpsertContactResponse
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/contacts/upsert",
		location: req.LocationID,
		body:     req,
		secrets:  secrets,
	}, &out)
	if err != nil {
		return UpsertContactResponse{}, fmt.Errorf("upsert contact for %s: %w", req.LocationID, err)
	}
	return out, nil
}

// ExternalIDFilter is the contact search filter finding the contacts whose
// custom field fieldID holds value exactly. HighLevel's documents do not
// spell the field name of a custom field in a search filter: socialsync
// assumes "customFields.<field id>" with operator "eq", and the simulator
// implements that assumption.
func ExternalIDFilter(fieldID, value string) SearchFilter {
	return SearchFilter{Field: "customFields." + fieldID, Operator: "eq", Value: value}
}
