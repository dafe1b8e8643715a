package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
)

// Stores are contactsync's stores on JetStream: the catalogues in
// socialsync_tags, the tag details in socialsync_tag_details, its own
// values in socialsync_relations, the contacts of contact references in
// socialsync_contact_refs, the mappings in socialsync_settings, and the
// dead letters.
type Stores struct {
	Catalogues  Catalogues
	Details     Details
	Relations   Relations
	ContactRefs Relations
	Mappings    Mappings
	States      States
	DeadLetters DeadLetters
	// Purge removes a key's every revision (EraserDeps.Purge).
	Purge func(ctx context.Context, bucket, key string) error
}

// OpenStores opens contactsync's buckets, which the process's topology
// declared.
func OpenStores(ctx context.Context, js jetstream.JetStream) (Stores, error) {
	var tags, details, rel, set, refs jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{
		topology.BucketTags: &tags, topology.BucketTagDetails: &details, topology.BucketRelations: &rel, topology.BucketSettings: &set,
		topology.BucketContactRefs: &refs,
	}); err != nil {
		return Stores{}, err
	}
	return Stores{Catalogues: kvCatalogues{tags}, Details: kvDetails{details}, Relations: kvRelations{rel},
		ContactRefs: kvRelations{refs}, Mappings: kvMappings{set}, States: kvRelations{rel}, DeadLetters: jsDeadLetters{js},
		Purge: KeyPurger(js)}, nil
}

type kvCatalogues struct{ kv jetstream.KeyValue }

func (s kvCatalogues) Catalogue(ctx context.Context, loc string) (relations.Catalogue, error) {
	e, err := s.kv.Get(ctx, relations.CatalogueKey(loc))
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

// AwaitCatalogue watches loc's catalogue key from its current value on
// (not only its updates): a catalogue stored between the caller's read
// and the watch is then seen too.
func (s kvCatalogues) AwaitCatalogue(ctx context.Context, loc string, after time.Time) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.kv.Watch(ctx, relations.CatalogueKey(loc), jetstream.IgnoreDeletes())
	if err != nil {
		return false, fmt.Errorf("watch tag catalogue of %s: %w", loc, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case e, ok := <-w.Updates():
			if !ok {
				return false, nil
			}
			if e == nil { // the current value, if any, came
				continue
			}
			// One it cannot decode is the fetcher's to fix (Catalogue
			// reports it); the next may do.
			if c, err := relations.UnmarshalCatalogue(e.Value()); err == nil && c.FetchedAt.After(after) {
				return true, nil
			}
		}
	}
}

type kvDetails struct{ kv jetstream.KeyValue }

func (s kvDetails) Detail(ctx context.Context, loc, tag string) (*socialsyncv1.TagDetail, error) {
	e, err := s.kv.Get(ctx, relations.DetailsKey(loc, tag))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read details of tag %s of %s: %w", tag, loc, err)
	}
	var d socialsyncv1.TagDetail
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(e.Value(), &d); err != nil {
		return nil, nil // details we cannot read are as none
	}
	return &d, nil
}

type kvRelations struct{ kv jetstream.KeyValue }

func (s kvRelations) Load(ctx context.Context, key string, v any) (uint64, error) {
	return revision.Load(ctx, s.kv, key, v)
}

func (s kvRelations) Save(ctx context.Context, key string, v any, rev uint64) (uint64, error) {
	return revision.Save(ctx, s.kv, key, v, rev)
}

func (s kvRelations) Delete(ctx context.Context, key string, rev uint64) error {
	return revision.Delete(ctx, s.kv, key, rev)
}

func (s kvRelations) ContactStates(ctx context.Context, loc string) ([]reconcile.Contact, error) {
	prefix := relations.ContactPrefix(loc)
	lister, err := s.kv.ListKeysFiltered(ctx, prefix+"*")
	if err != nil {
		return nil, fmt.Errorf("list contact states of %s: %w", loc, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	_ = lister.Stop()
	out := make([]reconcile.Contact, 0, len(keys))
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read contact state %s: %w", k, err)
		}
		var st relations.ContactState
		if err := json.Unmarshal(e.Value(), &st); err != nil {
			return nil, fmt.Errorf("decode contact state %s: %w", k, err)
		}
		written := st.Written
		if written.IsZero() {
			written = e.Created()
		}
		out = append(out, reconcile.Contact{ID: strings.TrimPrefix(k, prefix), State: st, WrittenAt: written})
	}
	return out, nil
}

type kvMappings struct{ kv jetstream.KeyValue }

func (m kvMappings) Mapping(ctx context.Context, loc string) (settings.Mapping, bool, error) {
	return settings.GetMapping(ctx, m.kv, loc)
}

func (m kvMappings) Mapped(ctx context.Context) ([]string, error) {
	return settings.MappedLocations(ctx, m.kv)
}

func (m kvMappings) ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error) {
	return settings.ContactTagNaming(ctx, m.kv, loc, fallback, log)
}

type jsDeadLetters struct{ js jetstream.JetStream }

func (d jsDeadLetters) DeadLetterItem(ctx context.Context, worker string, msg jetstream.Msg, item string, class bus.Class, reason string) (string, error) {
	return bus.DeadLetterItem(ctx, d.js, worker, msg, item, class, reason)
}

// List lists dead letters (bus.ListDeadLetters): with Delete, what
// erasing a contact needs of SOCIALSYNC_DLQ (DeadLetterStore).
func (d jsDeadLetters) List(ctx context.Context, filter string, after uint64, limit int) ([]bus.StoredDeadLetter, bool, error) {
	return bus.ListDeadLetters(ctx, d.js, filter, after, limit)
}

// Delete deletes the dead letter at seq (bus.DeleteDeadLetter).
func (d jsDeadLetters) Delete(ctx context.Context, seq uint64) error {
	return bus.DeleteDeadLetter(ctx, d.js, seq)
}

// KeyPurger returns the Purge of EraserDeps on js (bus.PurgeKey).
func KeyPurger(js jetstream.JetStream) func(ctx context.Context, bucket, key string) error {
	return func(ctx context.Context, bucket, key string) error { return bus.PurgeKey(ctx, js, bucket, key) }
}

// DeadLetterStoreOf returns the dead letters of js as a DeadLetterStore.
func DeadLetterStoreOf(js jetstream.JetStream) DeadLetterStore { return jsDeadLetters{js} }
