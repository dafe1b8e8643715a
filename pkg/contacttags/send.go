package contacttags

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Result is what a round of contact tag writes achieved.
type Result struct {
	// Failed holds, per contact, why HighLevel refused it for good (a
	// deleted, unknown or other-location contact).
	Failed map[string]string
	// Incomplete holds the contacts whose writes may not all have been
	// applied: a call for them failed as a whole, or was not sent.
	Incomplete map[string]bool
	// Err is the failure that stopped the writes, if any.
	Err error
}

// Tagger writes contact tags in HighLevel (ghl.Client).
type Tagger interface {
	AddContactTags(ctx context.Context, contactID string, tags []string) ([]string, error)
	RemoveContactTags(ctx context.Context, contactID string, tags []string) ([]string, error)
	BulkAddTags(ctx context.Context, loc string, contacts, tags []string) (ghl.BulkTagsResponse, error)
	BulkRemoveTags(ctx context.Context, loc string, contacts, tags []string) (ghl.BulkTagsResponse, error)
}

// Send sends writes in order. A call that fails as a whole (a 429, a 5xx,
// an auth failure) stops the round: its contacts and those of the calls
// not yet sent are incomplete, and err says why. A refusal that concerns
// one contact marks that contact failed and the round goes on.
func Send(ctx context.Context, c Tagger, loc string, writes []Write) Result {
	res := Result{Failed: map[string]string{}, Incomplete: map[string]bool{}}
	for _, wr := range writes {
		if res.Err != nil {
			for _, id := range wr.Contacts {
				res.Incomplete[id] = true
			}
			continue
		}
		if wr.Bulk {
			res.bulk(ctx, c, loc, wr)
		} else {
			res.single(ctx, c, wr)
		}
	}
	return res
}

// bulk sends one bulk call. HighLevel answers a bulk call even when some
// of its contacts failed, listing each failure.
func (r *Result) bulk(ctx context.Context, c Tagger, loc string, wr Write) {
	call := c.BulkAddTags
	if wr.Remove {
		call = c.BulkRemoveTags
	}
	resp, err := call(ctx, loc, wr.Contacts, wr.Tags)
	var be *ghl.BulkError
	if err != nil && !errors.As(err, &be) {
		r.Err = err
		for _, id := range wr.Contacts {
			r.Incomplete[id] = true
		}
		return
	}
	done := map[string]bool{}
	for _, o := range resp.Responses {
		if strings.EqualFold(o.Type, "success") {
			done[o.ContactID] = true
		}
	}
	if be != nil {
		for _, f := range be.Failures {
			if slices.Contains(wr.Contacts, f.ContactID) && !done[f.ContactID] {
				r.Failed[f.ContactID] = "HighLevel refused it: " + f.Message
			}
		}
	}
	var unknown []string
	for _, id := range wr.Contacts {
		if !done[id] && r.Failed[id] == "" {
			// Neither a success nor a failure of its own: HighLevel
			// reported failures it did not itemise.
			r.Incomplete[id] = true
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		r.Err = fmt.Errorf("bulk tags for %s: HighLevel gave no outcome for contacts %s", loc, strings.Join(unknown, ", "))
	}
}

// single sends one single-contact call.
func (r *Result) single(ctx context.Context, c Tagger, wr Write) {
	id := wr.Contacts[0]
	var err error
	if wr.Remove {
		_, err = c.RemoveContactTags(ctx, id, wr.Tags)
	} else {
		_, err = c.AddContactTags(ctx, id, wr.Tags)
	}
	switch {
	case err == nil:
	case contactRefused(err):
		r.Failed[id] = err.Error()
	default:
		r.Err = fmt.Errorf("contact %s: %w", id, err)
		r.Incomplete[id] = true
	}
}

// contactRefused reports an error of a single-contact call that concerns
// that contact alone: HighLevel answers 400 "Contact not found" for an
// unknown or deleted contact, and 403 for a contact of another location
// (the location's token has no access to it). A 401, a 429 or a 5xx is
// about the call, not the contact.
func contactRefused(err error) bool {
	var e *ghl.Error
	if !errors.As(err, &e) {
		return errors.Is(err, ghl.ErrInvalidArgument)
	}
	switch {
	case e.StatusCode == http.StatusForbidden:
		return true
	case e.Kind == ghl.KindPermanent && e.StatusCode >= 400 && e.StatusCode < 500:
		return true
	}
	return false
}
