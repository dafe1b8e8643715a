package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// store reads and writes contactsync's keys.
type store struct {
	tags      jetstream.KeyValue
	details   jetstream.KeyValue
	relations jetstream.KeyValue
}

// catalogue is the value of a location's key in the tags bucket, written
// by the fetcher: its live tags, tombstones of the tags it saw deleted,
// and when the fetch that produced it began.
type catalogue struct {
	Tags    []catalogueTag `json:"tags"`
	Deleted []catalogueTag `json:"deleted"`
	// FetchedAt is zero when the fetcher has stored no catalogue yet.
	FetchedAt time.Time `json:"fetchedAt"`
}

type catalogueTag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// names returns the catalogue's live tag names by id.
func (c catalogue) names() map[string]string {
	out := make(map[string]string, len(c.Tags))
	for _, t := range c.Tags {
		out[t.ID] = t.Name
	}
	return out
}

// tombstones returns the last known names of the deleted tags by id.
func (c catalogue) tombstones() map[string]string {
	out := make(map[string]string, len(c.Deleted))
	for _, t := range c.Deleted {
		out[t.ID] = t.Name
	}
	return out
}

// catalogue returns the location's tag catalogue; the zero catalogue when
// the fetcher has stored none yet.
func (s *store) catalogue(ctx context.Context, loc string) (catalogue, error) {
	e, err := s.tags.Get(ctx, loc)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return catalogue{}, nil
	}
	if err != nil {
		return catalogue{}, fmt.Errorf("read tag catalogue of %s: %w", loc, err)
	}
	var c catalogue
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		// The fetcher's to fix; retried meanwhile.
		return catalogue{}, fmt.Errorf("decode tag catalogue of %s: %w", loc, err)
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
	e, err := s.details.Get(ctx, loc+"."+tag)
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

// contactKey is the relations key of a contact.
func contactKey(loc, contact string) string { return "contact." + loc + "." + contact }

// postContactsKey is the relations key of a post's contacts.
func postContactsKey(loc, post string) string { return "postcontacts." + loc + "." + post }

// load reads the JSON value of key into v and returns its revision; 0
// (and v untouched) when there is none.
func (s *store) load(ctx context.Context, key string, v any) (uint64, error) {
	return loadJSON(ctx, s.relations, key, v)
}

// save writes v as JSON under key if key is still at revision rev (0:
// absent), and returns the new revision; an error matching errConflict
// when it is not.
func (s *store) save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	if rev == 0 {
		rev, err = s.relations.Create(ctx, key, data)
	} else {
		rev, err = s.relations.Update(ctx, key, data, rev)
	}
	if isConflict(err) {
		return 0, fmt.Errorf("store %s: %w", key, errConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", key, err)
	}
	return rev, nil
}

// remove deletes key if it is still at revision rev.
func (s *store) remove(ctx context.Context, key string, rev uint64) error {
	err := s.relations.Delete(ctx, key, jetstream.LastRevision(rev))
	if isConflict(err) {
		return fmt.Errorf("delete %s: %w", key, errConflict)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// contact reads a contact's state and revision.
func (s *store) contact(ctx context.Context, loc, id string) (tagging.State, uint64, error) {
	var st tagging.State
	rev, err := s.load(ctx, contactKey(loc, id), &st)
	return st, rev, err
}

// isConflict reports a failed revision check. Create reports it as
// ErrKeyExists; Update and Delete as ErrKeyRevisionMismatch, which on a
// single server also matches ErrKeyExists but on a replicated (R3) bucket
// does not (the server answers 10164 there, not 10071).
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}
