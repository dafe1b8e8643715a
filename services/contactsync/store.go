package contactsync

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// store reads and writes contactsync's keys.
type store struct {
	tags      jetstream.KeyValue
	details   jetstream.KeyValue
	relations jetstream.KeyValue
}

// catalogue returns the location's tag catalogue; the zero catalogue when
// the fetcher has stored none yet.
func (s *store) catalogue(ctx context.Context, loc string) (relations.Catalogue, error) {
	e, err := s.tags.Get(ctx, relations.CatalogueKey(loc))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return relations.Catalogue{}, nil
	}
	if err != nil {
		return relations.Catalogue{}, fmt.Errorf("read tag catalogue of %s: %w", loc, err)
	}
	c, err := relations.UnmarshalCatalogue(e.Value())
	if err != nil {
		// The fetcher's to fix; retried meanwhile.
		return relations.Catalogue{}, fmt.Errorf("decode tag catalogue of %s: %w", loc, err)
	}
	return c, nil
}

// deletedTag reports whether the enricher's details of tag say it was
// deleted. A deleted tag is not in the catalogue, and waiting for the
// fetcher would not bring it back.
func (s *store) deletedTag(ctx context.Context, loc, tag string) (bool, error) {
	if !validKeyPart(tag) {
		return false, nil
	}
	e, err := s.details.Get(ctx, relations.DetailsKey(loc, tag))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read details of tag %s of %s: %w", tag, loc, err)
	}
	var d socialsyncv1.TagDetail
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(e.Value(), &d); err != nil {
		return false, nil // not a deletion we can read: keep waiting
	}
	return d.GetDeleted(), nil
}

// load reads the JSON value of key into v and returns its revision; 0
// (and v untouched) when there is none.
func (s *store) load(ctx context.Context, key string, v any) (uint64, error) {
	return revision.Load(ctx, s.relations, key, v)
}

// save writes v as JSON under key if key is still at revision rev (0:
// absent), and returns the new revision; an error matching errConflict
// when it is not.
func (s *store) save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	return revision.Save(ctx, s.relations, key, v, rev)
}

// remove deletes key if it is still at revision rev.
func (s *store) remove(ctx context.Context, key string, rev uint64) error {
	return revision.Delete(ctx, s.relations, key, rev)
}

// contact reads a contact's state and revision.
func (s *store) contact(ctx context.Context, loc, id string) (tagging.State, uint64, error) {
	var st tagging.State
	rev, err := s.load(ctx, relations.ContactKey(loc, id), &st)
	return st, rev, err
}
