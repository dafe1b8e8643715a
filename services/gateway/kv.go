package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
)

// scan returns the current values of the keys of kv matching pattern
// (a subject wildcard such as "tagposts.<loc>.*"), in one pass over the
// bucket's stream rather than one request per key.
func scan(ctx context.Context, kv jetstream.KeyValue, pattern string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if err := bus.EachCurrent(ctx, kv, []string{pattern}, func(e jetstream.KeyValueEntry) { out[e.Key()] = e.Value() }); err != nil {
		return nil, fmt.Errorf("scan %s: %w", pattern, err)
	}
	return out, nil
}

// get returns the value of key; nil when there is none.
func get(ctx context.Context, kv jetstream.KeyValue, key string) ([]byte, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return e.Value(), nil
}
