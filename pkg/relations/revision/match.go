package revision

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"
)

// KeysMatching returns the keys of kv matching any of patterns (subject
// wildcards: "post.L1.>", "contact.L1.*"), sorted.
func KeysMatching(ctx context.Context, kv jetstream.KeyValue, patterns ...string) ([]string, error) {
	lister, err := kv.ListKeysFiltered(ctx, patterns...)
	if err != nil {
		return nil, err
	}
	// Stop answers "invalid subscription" once the listing is exhausted.
	defer func() { _ = lister.Stop() }()
	var out []string
	for k := range lister.Keys() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// PurgeMatching purges every key of kv matching patterns (its history
// too) and returns how many it purged.
func PurgeMatching(ctx context.Context, kv jetstream.KeyValue, patterns ...string) (int, error) {
	keys, err := KeysMatching(ctx, kv, patterns...)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list keys of %s: %w", kv.Bucket(), err)
	}
	for i, k := range keys {
		if err := kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return i, fmt.Errorf("purge %s of %s: %w", k, kv.Bucket(), err)
		}
	}
	return len(keys), nil
}
