package ghl

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Adding a tag a contact already has, or removing one it lacks, is a no-op
// at HighLevel, so the contact tag calls below (single and bulk) use the
// retryTransient policy: a retry after a 5xx or timeout that did reach the
// server cannot change the outcome.

// AddContactTags adds tags (names, not ids) to a contact (POST
// /contacts/{contactId}/tags, 201) and returns the tags HighLevel echoed.
// Use ForLocation so the call is attributed to the contact's location.
func (c *Client) AddContactTags(ctx context.Context, contactID string, tags []string) ([]string, error) {
	return c.contactTags(ctx, http.MethodPost, contactID, tags)
}

// RemoveContactTags removes tags from a contact (DELETE
// /contacts/{contactId}/tags with a JSON body, 200).
func (c *Client) RemoveContactTags(ctx context.Context, contactID string, tags []string) ([]string, error) {
	return c.contactTags(ctx, http.MethodDelete, contactID, tags)
}

func (c *Client) contactTags(ctx context.Context, method, contactID string, tags []string) ([]string, error) {
	tags = uniq(tags)
	if len(tags) == 0 {
		return nil, fmt.Errorf("%w: %s /contacts/{contactId}/tags: no tags", ErrInvalidArgument, method)
	}
	var out ContactTags
	err := c.do(ctx, request{
		method:   method,
		template: "/contacts/{contactId}/tags",
		args:     []string{contactID},
		body:     ContactTags{Tags: tags},
	}, &out)
	if err != nil {
		return nil, err
	}
	return out.Tags, nil
}

// BulkAddTags adds tags to many contacts of a location in one call (POST
// /contacts/bulk/tags/update/add). HighLevel answers 201 even when some
// contacts failed; then the response is returned together with a
// *BulkError (errors.Is ErrPartialFailure) listing every failed contact.
func (c *Client) BulkAddTags(ctx context.Context, loc string, contacts, tags []string) (BulkTagsResponse, error) {
	return c.bulkTags(ctx, "add", loc, contacts, tags)
}

// BulkRemoveTags removes tags from many contacts (POST
// /contacts/bulk/tags/update/remove); partial failures as in BulkAddTags.
func (c *Client) BulkRemoveTags(ctx context.Context, loc string, contacts, tags []string) (BulkTagsResponse, error) {
	return c.bulkTags(ctx, "remove", loc, contacts, tags)
}

func (c *Client) bulkTags(ctx context.Context, op, loc string, contacts, tags []string) (BulkTagsResponse, error) {
	contacts, tags = uniq(contacts), uniq(tags)
	switch {
	case loc == "":
		return BulkTagsResponse{}, fmt.Errorf("%w: bulk %s tags: empty locationId", ErrInvalidArgument, op)
	case len(contacts) == 0, len(tags) == 0:
		return BulkTagsResponse{}, fmt.Errorf("%w: bulk %s tags: no contacts or no tags", ErrInvalidArgument, op)
	}
	var out BulkTagsResponse
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/contacts/bulk/tags/update/{type}",
		args:     []string{op},
		location: loc,
		body:     BulkTagsRequest{Contacts: contacts, Tags: tags, LocationID: loc},
	}, &out)
	if err != nil {
		return BulkTagsResponse{}, fmt.Errorf("bulk %s tags for %s: %w", op, loc, err)
	}
	if failed := out.Failed(); len(failed) > 0 {
		return out, &BulkError{Op: op, Total: len(contacts), Failures: failed}
	}
	return out, nil
}

// Failed returns the outcomes of type "error". When HighLevel reported
// failures (errorCount, or succeded false) that no outcome names, a
// synthetic outcome with an empty ContactID says so, so that a failure is
// never silently dropped.
func (r BulkTagsResponse) Failed() []BulkTagOutcome {
	var out []BulkTagOutcome
	for _, o := range r.Responses {
		if !strings.EqualFold(o.Type, "success") {
			out = append(out, o)
		}
	}
	switch {
	case r.ErrorCount > len(out):
		out = append(out, BulkTagOutcome{
			Type:    "error",
			Message: fmt.Sprintf("%d failures not itemised by HighLevel", r.ErrorCount-len(out)),
		})
	case !r.Succeeded && len(out) == 0:
		out = append(out, BulkTagOutcome{Type: "error", Message: "HighLevel reported the bulk call as not succeeded"})
	}
	return out
}

// SearchContacts runs one page of a contact search (POST /contacts/search).
// An empty LocationID is the ForLocation location; a zero PageLimit is
// sent as 100 (HighLevel requires it, at most 500).
func (c *Client) SearchContacts(ctx context.Context, req SearchContactsRequest) (SearchContactsResponse, error) {
	if req.LocationID == "" {
		req.LocationID = c.location
	}
	if req.LocationID == "" {
		return SearchContactsResponse{}, fmt.Errorf("%w: search contacts: empty locationId", ErrInvalidArgument)
	}
	if req.PageLimit == 0 {
		req.PageLimit = 100
	}
	var out SearchContactsResponse
	err := c.do(ctx, request{
		method:   http.MethodPost,
		template: "/contacts/search",
		location: req.LocationID,
		body:     req,
	}, &out)
	if err != nil {
		return SearchContactsResponse{}, err
	}
	return out, nil
}
