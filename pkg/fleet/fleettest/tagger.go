package fleettest

import (
	"context"
	"net/http"
	"slices"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Tagger is a fake of contacttags.Tagger for a worker's fast handler
// tests: the contacts' tags in HighLevel, in memory. A contact in Refused
// is refused as HighLevel refuses another location's contact (403). The
// bulk endpoint fails the test: the tests set BulkMin above their
// contacts.
type Tagger struct {
	Tags    map[string][]string
	Refused map[string]bool
	// Writes counts the add and remove calls made, refused ones included.
	Writes int
}

// NewTagger returns a Tagger with no tags and no refusals.
func NewTagger() *Tagger {
	return &Tagger{Tags: map[string][]string{}, Refused: map[string]bool{}}
}

// AddContactTags adds the tags the contact lacks and returns its tags.
func (f *Tagger) AddContactTags(_ context.Context, contact string, tags []string) ([]string, error) {
	f.Writes++
	if f.Refused[contact] {
		return nil, &ghl.Error{Method: "POST", Path: "/contacts/{contactId}/tags", StatusCode: http.StatusForbidden, Kind: ghl.KindPermanent}
	}
	for _, t := range tags {
		if !slices.Contains(f.Tags[contact], t) {
			f.Tags[contact] = append(f.Tags[contact], t)
		}
	}
	return f.Tags[contact], nil
}

// RemoveContactTags removes tags from the contact and returns its tags.
func (f *Tagger) RemoveContactTags(_ context.Context, contact string, tags []string) ([]string, error) {
	f.Writes++
	f.Tags[contact] = slices.DeleteFunc(f.Tags[contact], func(t string) bool { return slices.Contains(tags, t) })
	return f.Tags[contact], nil
}

// BulkAddTags panics: the tests write contacts one by one.
func (f *Tagger) BulkAddTags(context.Context, string, []string, []string) (ghl.BulkTagsResponse, error) {
	panic("BulkMin is set above the test's contacts")
}

// BulkRemoveTags panics: the tests write contacts one by one.
func (f *Tagger) BulkRemoveTags(context.Context, string, []string, []string) (ghl.BulkTagsResponse, error) {
	panic("BulkMin is set above the test's contacts")
}
