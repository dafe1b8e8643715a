package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// scan returns the current values of the keys of kv matching pattern
// (a subject wildcard such as "tagposts.<loc>.*"), in one pass over the
// bucket's stream rather than one request per key.
func scan(ctx context.Context, kv jetstream.KeyValue, pattern string) (map[string][]byte, error) {
	watcher, err := kv.Watch(ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", pattern, err)
	}
	defer func() { _ = watcher.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("scan %s: %w", pattern, ctx.Err())
		case e, ok := <-watcher.Updates():
			if !ok {
				return nil, fmt.Errorf("scan %s: watcher stopped", pattern)
			}
			if e == nil { // the initial values are all delivered
				return out, nil
			}
			out[e.Key()] = e.Value()
		}
	}
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
