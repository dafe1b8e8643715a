package settings

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Key prefixes in topology.BucketSettings.
const (
	StatsPrefix    = "stats."
	MappingsPrefix = "mappings."
)

// ErrInvalid is a setting that cannot be stored: the message names the
// field.
var ErrInvalid = errors.New("invalid setting")

// StatsKey returns the key of loc's statistics settings.
func StatsKey(loc string) string { return StatsPrefix + loc }

// MappingsKey returns the key of loc's mappings.
func MappingsKey(loc string) string { return MappingsPrefix + loc }

// Open opens the settings bucket.
func Open(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, topology.BucketSettings)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketSettings, err)
	}
	return kv, nil
}

// get reads the JSON value at key into v; false when there is none.
func get(ctx context.Context, kv jetstream.KeyValue, key string, v any) (bool, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read setting %s: %w", key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return false, fmt.Errorf("%w: %s: %v", ErrInvalid, key, err)
	}
	return true, nil
}

// put writes v as JSON at key.
func put(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode setting %s: %w", key, err)
	}
	if _, err := kv.Put(ctx, key, data); err != nil {
		return fmt.Errorf("store setting %s: %w", key, err)
	}
	return nil
}

// Location returns the location a settings key is about and its prefix;
// false for a key of no known prefix or an invalid location.
func Location(key string) (prefix, loc string, ok bool) {
	for _, p := range []string{StatsPrefix, MappingsPrefix} {
		if len(key) > len(p) && key[:len(p)] == p {
			loc = key[len(p):]
			return p, loc, ids.ValidHighLevel(loc)
		}
	}
	return "", "", false
}

// MappedLocations returns the locations that have a mapping, sorted, from
// one listing of the bucket's mapping keys: a fixed number of requests
// whatever the number of locations.
func MappedLocations(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	keys, err := revision.KeysMatching(ctx, kv, MappingsPrefix+"*")
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	var out []string
	for _, k := range keys {
		if _, loc, ok := Location(k); ok {
			out = append(out, loc)
		}
	}
	return out, nil
}
