package sources

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Store reads and writes the bindings in topology.BucketSources. It is
// safe for concurrent use; any number of Stores may share the bucket.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open returns a Store over the bucket of js, which the topology creates.
func Open(ctx context.Context, js jetstream.JetStream) (*Store, error) {
	kv, err := js.KeyValue(ctx, topology.BucketSources)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketSources, err)
	}
	return &Store{kv: kv, now: time.Now}, nil
}

// key is the key of source's binding: its name, which is a valid key as
// it is (letters, digits, '-', '_').
func key(source string) (string, error) {
	if err := ids.CheckSource("source", source); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return source, nil
}

// Get returns source's binding; ErrNotFound when it has none.
func (s *Store) Get(ctx context.Context, source string) (Binding, error) {
	b, _, err := s.get(ctx, source)
	return b, err
}

func (s *Store) get(ctx context.Context, source string) (Binding, uint64, error) {
	k, err := key(source)
	if err != nil {
		return Binding{}, 0, err
	}
	var b Binding
	rev, err := revision.Load(ctx, s.kv, k, &b)
	if err != nil {
		return Binding{}, 0, fmt.Errorf("binding of source %s: %w", source, err)
	}
	if rev == 0 {
		return Binding{}, 0, fmt.Errorf("%w: %s", ErrNotFound, source)
	}
	b.Source = source
	return b, rev, nil
}

// List returns every binding, ordered by source.
func (s *Store) List(ctx context.Context) ([]Binding, error) {
	keys, err := revision.Keys(ctx, s.kv)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	var out []Binding
	for _, k := range keys {
		b, err := s.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Update applies change to source's binding at the revision it read
// (found is false, and b holds only the name, when the source has none),
// reading again after a concurrent write, and stores the result. A change
// that returns an error, or leaves an invalid binding, stores nothing. It
// returns the binding stored.
func (s *Store) Update(ctx context.Context, source string, change func(b *Binding, found bool) error) (Binding, error) {
	k, err := key(source)
	if err != nil {
		return Binding{}, err
	}
	var stored Binding
	_, err = revision.Update(ctx, s.kv, k, func(b *Binding, found bool) error {
		b.Source = source
		if err := change(b, found); err != nil {
			return err
		}
		b.Source = source
		b.Locations, b.Companies = normal(b.Locations), normal(b.Companies)
		if err := b.Validate(); err != nil {
			return err
		}
		b.UpdatedAt = s.now().UTC()
		stored = *b
		return nil
	})
	if err != nil {
		return Binding{}, fmt.Errorf("binding of source %s: %w", source, err)
	}
	return stored, nil
}

// Put replaces source's binding with locations and companies.
func (s *Store) Put(ctx context.Context, source string, locations, companies []string) (Binding, error) {
	return s.Update(ctx, source, func(b *Binding, _ bool) error {
		b.Locations, b.Companies = locations, companies
		return nil
	})
}

// Delete removes source's binding; ErrNotFound when it has none. The
// source then speaks for nothing.
func (s *Store) Delete(ctx context.Context, source string) error {
	_, rev, err := s.get(ctx, source)
	if err != nil {
		return err
	}
	if err := revision.Delete(ctx, s.kv, source, rev); err != nil {
		return fmt.Errorf("binding of source %s: %w", source, err)
	}
	return nil
}
