package automationworker

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Deps are what the automation worker uses, each as narrow as its use. A
// process gives it the fleet's publisher, credential store and HighLevel
// client, and the stores of OpenStores; a handler test gives it fakes.
type Deps struct {
	Publisher Publisher
	Locations Locations
	// Client returns the HighLevel client of a location.
	Client func(loc string) Client
	// Segments hold the memberships and announcement markers
	// (socialsync_segments), Relations the contact states and post
	// records contactsync and the enricher keep, Runs the workflow runs
	// done (socialsync_workflow_runs).
	Segments  Records
	Relations Records
	Runs      Records
	// SegmentDefs and Workflows are watched for the definitions: the
	// worker's loops.
	SegmentDefs Watcher
	Workflows   Watcher
	// Mappings tell how each location names its contact tags: a
	// workflow selecting contacts by social tag looks for the names the
	// location's template gives (socialsync_settings, read).
	Mappings Mappings
	// Outbox publishes a workflow's raw messages.
	Outbox      Outbox
	DeadLetters DeadLetters
	// Notices feeds the new dead letters to the operator's notifications
	// (the notifier durable on SOCIALSYNC_DLQ); nil: none are notified.
	Notices DeadLetterFeed
	// Meter counts the abandoned workflow expressions; nil: they are not
	// counted.
	Meter metric.MeterProvider
	Log   *slog.Logger
}

// Publisher publishes an event or trigger (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error)
}

// Locations lists the registered locations, for a changed segment
// definition (creds.Store).
type Locations interface {
	Locations(ctx context.Context) ([]creds.Location, error)
}

// Client is what the automation worker asks HighLevel for one location
// (ghl.Client): contact tag writes and custom values.
type Client interface {
	contacttags.Tagger
	CustomValues(ctx context.Context, loc string) ([]ghl.CustomValue, error)
	UpdateCustomValue(ctx context.Context, loc, id, name, value string) (ghl.CustomValue, error)
	EnsureCustomValue(ctx context.Context, loc, name, value string) (ghl.CustomValue, error)
}

// Records are a bucket's values under their revisions
// (pkg/relations/revision on a KV bucket).
type Records interface {
	// Get returns the value at key and its revision; nil and 0 when
	// absent.
	Get(ctx context.Context, key string) ([]byte, uint64, error)
	// Put writes data at key if its revision is still rev (absent when
	// 0) and returns the new revision; an error matching
	// revision.ErrConflict when it is not.
	Put(ctx context.Context, key string, data []byte, rev uint64) (uint64, error)
	// Delete deletes key if its revision is still rev.
	Delete(ctx context.Context, key string, rev uint64) error
	// Keys returns the rest of every key that starts with prefix (which
	// ends with a dot).
	Keys(ctx context.Context, prefix string) ([]string, error)
}

// Mappings are the locations' field mappings (socialsync_settings).
type Mappings interface {
	// ContactTagNaming tells how loc's contact tags are named: by its
	// mapping, else by fallback (settings.ContactTagNaming).
	ContactTagNaming(ctx context.Context, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error)
}

// Watcher watches a bucket's keys (jetstream.KeyValue).
type Watcher interface {
	Watch(ctx context.Context, keys string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error)
}

// Outbox publishes a workflow's message as it is: through JetStream when
// a stream captures the subject, on plain NATS otherwise.
type Outbox interface {
	PublishRaw(ctx context.Context, subject string, payload []byte, headers map[string]string) error
}

// DeadLetters dead-letters one item of a message (bus.DeadLetterItem)
// and returns the dead letter's subject.
type DeadLetters interface {
	DeadLetterItem(ctx context.Context, worker string, msg jetstream.Msg, item string, class bus.Class, reason string) (string, error)
}
