package enricher

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
)

// maxWriteAttempts bounds the read-modify-write rounds on one key that
// lose the race to other replicas.
const maxWriteAttempts = 8

// errConflict is a write that lost a race: the key's revision changed
// since it was read.
var errConflict = errors.New("key changed since it was read")

// get returns the value at key and its revision; nil and 0 when absent.
func get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", key, err)
	}
	return e.Value(), e.Revision(), nil
}

// put writes data at key if its revision is still rev (absent when 0),
// and fails with errConflict otherwise.
func put(ctx context.Context, kv jetstream.KeyValue, key string, data []byte, rev uint64) error {
	var err error
	if rev == 0 {
		_, err = kv.Create(ctx, key, data)
	} else {
		_, err = kv.Update(ctx, key, data, rev)
	}
	return writeError(key, err)
}

// del deletes key if its revision is still rev.
func del(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64) error {
	return writeError(key, kv.Delete(ctx, key, jetstream.LastRevision(rev)))
}

func writeError(key string, err error) error {
	switch {
	case err == nil:
		return nil
	// ErrKeyExists is what a single server reports for a stale revision,
	// ErrKeyRevisionMismatch what a replicated stream reports.
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return fmt.Errorf("write %s: %w", key, errConflict)
	default:
		return fmt.Errorf("write %s: %w", key, err)
	}
}

// registered fails permanently for a location that was never connected.
func (w *Worker) registered(ctx context.Context, loc string) error {
	_, err := w.location(ctx, loc)
	return err
}

// location returns loc's record; an unknown location is permanent.
func (w *Worker) location(ctx context.Context, loc string) (creds.Location, error) {
	l, err := w.deps.Creds.Location(ctx, loc)
	switch {
	case errors.Is(err, creds.ErrUnknownLocation), errors.Is(err, creds.ErrInvalidLocation):
		return l, bus.Permanent(err)
	case err != nil:
		return l, fmt.Errorf("look up location %s: %w", loc, err)
	}
	return l, nil
}

func isConflict(err error) bool { return errors.Is(err, errConflict) }
