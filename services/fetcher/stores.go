package fetcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

// Stores are the fetcher's stores on JetStream: the catalogues in
// socialsync_tags, the poll cursors in socialsync_relations, the pending
// refreshes in SOCIALSYNC_REFRESH.
type Stores struct {
	Catalogues Catalogues
	Cursors    Cursors
	Refreshes  Refreshes
}

// OpenStores opens the fetcher's buckets and stream, which the process's
// topology declared.
func OpenStores(ctx context.Context, js jetstream.JetStream) (Stores, error) {
	var tags, rel jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{topology.BucketTags: &tags, topology.BucketRelations: &rel}); err != nil {
		return Stores{}, err
	}
	refreshes, err := js.Stream(ctx, topology.StreamRefresh)
	if err != nil {
		return Stores{}, fmt.Errorf("open stream %s: %w", topology.StreamRefresh, err)
	}
	return Stores{Catalogues: kvCatalogues{tags}, Cursors: kvCursors{rel}, Refreshes: streamRefreshes{refreshes}}, nil
}

type kvCatalogues struct{ kv jetstream.KeyValue }

func (s kvCatalogues) Load(ctx context.Context, loc string) (relations.Catalogue, uint64, error) {
	e, err := s.kv.Get(ctx, relations.CatalogueKey(loc))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return relations.Catalogue{}, 0, nil
	}
	if err != nil {
		return relations.Catalogue{}, 0, fmt.Errorf("read tag catalogue of %s: %w", loc, err)
	}
	c, err := relations.UnmarshalCatalogue(e.Value())
	if err != nil {
		// A value the fetcher cannot read is replaced by the next fetch,
		// as if none were stored; its revision still guards the write.
		bus.LoggerFrom(ctx).WarnContext(ctx, "stored tag catalogue unreadable; replacing it", "err", err)
		return relations.Catalogue{}, e.Revision(), nil
	}
	return c, e.Revision(), nil
}

func (s kvCatalogues) Store(ctx context.Context, loc string, c relations.Catalogue, rev uint64) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	if _, err = revision.Put(ctx, s.kv, relations.CatalogueKey(loc), data, rev); err != nil {
		return fmt.Errorf("store tag catalogue of %s: %w", loc, err)
	}
	return nil
}

type kvCursors struct{ kv jetstream.KeyValue }

func (s kvCursors) Load(ctx context.Context, loc string) (catalogue.PollCursor, uint64, error) {
	key := relations.PollCursorKey(loc)
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return catalogue.PollCursor{}, 0, nil
	}
	if err != nil {
		return catalogue.PollCursor{}, 0, fmt.Errorf("read %s: %w", key, err)
	}
	var c catalogue.PollCursor
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		// Start over: the posts are published again, and the enricher's
		// and contactsync's writes are idempotent.
		return catalogue.PollCursor{}, e.Revision(), nil
	}
	return c, e.Revision(), nil
}

func (s kvCursors) Store(ctx context.Context, loc string, c catalogue.PollCursor, rev uint64) (uint64, error) {
	key := relations.PollCursorKey(loc)
	data, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err = revision.Put(ctx, s.kv, key, data, rev)
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", key, err)
	}
	return rev, nil
}

type streamRefreshes struct{ s jetstream.Stream }

func (r streamRefreshes) Last(ctx context.Context, subject string) (uint64, bool, error) {
	last, err := r.s.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read pending refresh %s: %w", subject, err)
	}
	return last.Sequence, true, nil
}
