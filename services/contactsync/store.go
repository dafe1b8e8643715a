package contactsync

import (
	"context"
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// store reads and writes contactsync's keys through its Deps.
type store struct {
	catalogues Catalogues
	details    Details
	relations  Relations
}

// catalogue returns the location's tag catalogue; the zero catalogue when
// the fetcher has stored none yet.
func (s *store) catalogue(ctx context.Context, loc string) (relations.Catalogue, error) {
	return s.catalogues.Catalogue(ctx, loc)
}

// awaitCatalogue reports whether loc's catalogue, stored or stored before
// ctx ends, was fetched after after.
func (s *store) awaitCatalogue(ctx context.Context, loc string, after time.Time) (bool, error) {
	return s.catalogues.AwaitCatalogue(ctx, loc, after)
}

// deletedTag reports whether the enricher's details of tag say it was
// deleted. A deleted tag is not in the catalogue, and waiting for the
// fetcher would not bring it back. Details it cannot read are not a
// deletion: it keeps waiting.
func (s *store) deletedTag(ctx context.Context, loc, tag string) (bool, error) {
	if !validKeyPart(tag) {
		return false, nil
	}
	d, err := s.details.Detail(ctx, loc, tag)
	if err != nil {
		return false, err
	}
	return d.GetDeleted(), nil
}

// load reads the JSON value of key into v and returns its revision; 0
// (and v untouched) when there is none.
func (s *store) load(ctx context.Context, key string, v any) (uint64, error) {
	return s.relations.Load(ctx, key, v)
}

// save writes v as JSON under key if key is still at revision rev (0:
// absent), and returns the new revision; an error matching errConflict
// when it is not.
func (s *store) save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	return s.relations.Save(ctx, key, v, rev)
}

// remove deletes key if it is still at revision rev.
func (s *store) remove(ctx context.Context, key string, rev uint64) error {
	return s.relations.Delete(ctx, key, rev)
}

// contact reads a contact's state and revision.
func (s *store) contact(ctx context.Context, loc, id string) (tagging.State, uint64, error) {
	var st tagging.State
	rev, err := s.load(ctx, relations.ContactKey(loc, id), &st)
	return st, rev, err
}
