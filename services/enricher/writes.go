package enricher

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// maxWriteAttempts bounds the read-modify-write rounds on one key that
// lose the race to other replicas.
const maxWriteAttempts = 8

// errConflict is a write that lost a race: the key's revision changed
// since it was read.
var errConflict = revision.ErrConflict

// get returns the value at key and its revision; nil and 0 when absent.
func get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, uint64, error) {
	return revision.Get(ctx, kv, key)
}

// put writes data at key if its revision is still rev (absent when 0),
// and fails with errConflict otherwise.
func put(ctx context.Context, kv jetstream.KeyValue, key string, data []byte, rev uint64) error {
	_, err := revision.Put(ctx, kv, key, data, rev)
	return err
}

// del deletes key if its revision is still rev.
func del(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64) error {
	return revision.Delete(ctx, kv, key, rev)
}

func isConflict(err error) bool { return errors.Is(err, errConflict) }
