package enricher

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Stores are the enricher's stores on JetStream: socialsync_tag_details,
// socialsync_relations and the mappings in socialsync_settings.
type Stores struct {
	Details   Records
	Relations Records
	Naming    Naming
}

// OpenStores opens the enricher's buckets, which the process's topology
// declared.
func OpenStores(ctx context.Context, js jetstream.JetStream) (Stores, error) {
	var details, rel, set jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{
		topology.BucketTagDetails: &details, topology.BucketRelations: &rel, topology.BucketSettings: &set,
	}); err != nil {
		return Stores{}, err
	}
	return Stores{Details: kvRecords{details}, Relations: kvRecords{rel}, Naming: kvNaming{set}}, nil
}

type kvRecords struct{ kv jetstream.KeyValue }

func (r kvRecords) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	return revision.Get(ctx, r.kv, key)
}

func (r kvRecords) Put(ctx context.Context, key string, data []byte, rev uint64) error {
	_, err := revision.Put(ctx, r.kv, key, data, rev)
	return err
}

func (r kvRecords) Delete(ctx context.Context, key string, rev uint64) error {
	return revision.Delete(ctx, r.kv, key, rev)
}

type kvNaming struct{ kv jetstream.KeyValue }

func (n kvNaming) ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error) {
	return settings.ContactTagNaming(ctx, n.kv, loc, fallback, log)
}
