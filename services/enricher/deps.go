package enricher

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Deps are what the enricher uses, each as narrow as its use. A process
// gives it the fleet's publisher, credential store and HighLevel client,
// and the stores of OpenStores; a handler test gives it fakes.
type Deps struct {
	Publisher Publisher
	Locations Locations
	// Client returns the HighLevel client of a location.
	Client func(loc string) Client
	// Details hold the tag details ("<loc>.<tagId>"), Relations the post
	// ↔ tag relations.
	Details   Records
	Relations Records
	Naming    Naming
}

// Publisher publishes an event (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error)
}

// Locations are the registered locations' records (creds.Store).
type Locations interface {
	Location(ctx context.Context, loc string) (creds.Location, error)
	DisableFeature(ctx context.Context, loc string, f creds.Feature, scope string) error
}

// Client is what the enricher asks HighLevel for one location
// (ghl.Client).
type Client interface {
	TagDetails(ctx context.Context, loc string, ids []string) ([]ghl.SocialTag, error)
	LocationTags(ctx context.Context, loc string) ([]ghl.LocationTag, error)
	EnsureLocationTag(ctx context.Context, loc, name string) (ghl.LocationTag, error)
	DeleteLocationTag(ctx context.Context, loc, tagID string) error
	SearchContacts(ctx context.Context, req ghl.SearchContactsRequest) (ghl.SearchContactsResponse, error)
}

// Records are a bucket's values under their revisions
// (pkg/relations/revision on a KV bucket).
type Records interface {
	// Get returns the value at key and its revision; nil and 0 when
	// absent.
	Get(ctx context.Context, key string) ([]byte, uint64, error)
	// Put writes data at key if its revision is still rev (absent when
	// 0); an error matching revision.ErrConflict when it is not.
	Put(ctx context.Context, key string, data []byte, rev uint64) error
	// Delete deletes key if its revision is still rev.
	Delete(ctx context.Context, key string, rev uint64) error
}

// Naming tells how a location's contact tags are named: by its mapping,
// else by fallback (settings.ContactTagNaming).
type Naming interface {
	ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error)
}
