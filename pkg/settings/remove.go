package settings

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Remove deletes loc's settings: its statistics schedule and its
// mappings.
func Remove(ctx context.Context, kv jetstream.KeyValue, loc string) error {
	for _, key := range []string{StatsKey(loc), MappingsKey(loc)} {
		if err := kv.Purge(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("remove setting %s: %w", key, err)
		}
	}
	return nil
}
