package stats

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
)

// Deps are what the statistics worker uses. A process gives it the
// fleet's publisher, credential store and HighLevel client, and the stores
// of OpenStores; a handler test gives it fakes of the narrow interfaces
// (the follow-ups and the schedules keep to the JetStream stores).
type Deps struct {
	Publisher Publisher
	Locations Locations
	// Client returns the HighLevel client of a location.
	Client  func(loc string) Client
	History History
	// Stores are the buckets, object store and stream the follow-ups and
	// the schedules read and write.
	Stores Stores
	Log    *slog.Logger
}

// Publisher publishes events and keeps the schedules (bus.Publisher).
type Publisher interface {
	Publish(ctx context.Context, subject string, m proto.Message, opts ...bus.PublishOption) (*jetstream.PubAck, error)
	Schedule(ctx context.Context, s bus.Schedule, m proto.Message) (*jetstream.PubAck, error)
	Unschedule(ctx context.Context, subject string) error
}

// Locations are the registered locations' records (creds.Store).
type Locations interface {
	Location(ctx context.Context, loc string) (creds.Location, error)
	DisableFeature(ctx context.Context, loc string, f creds.Feature, scope string) error
}

// Client is what the worker asks HighLevel for one location (ghl.Client).
type Client interface {
	Accounts(ctx context.Context, loc string) (ghl.AccountsResults, error)
	Statistics(ctx context.Context, loc string, profileIDs, platforms []string) ([]ghl.StatisticsChunk, error)
	CustomValues(ctx context.Context, loc string) ([]ghl.CustomValue, error)
	UpdateCustomValue(ctx context.Context, loc, id, name, value string) (ghl.CustomValue, error)
	EnsureCustomValue(ctx context.Context, loc, name, value string) (ghl.CustomValue, error)
}

// History holds the daily snapshots under their revisions
// (report.HistoryKey).
type History interface {
	// Load returns the snapshot under key and its revision; nil and 0
	// when there is none, nil and its revision when it is unreadable.
	Load(ctx context.Context, key string) (*report.Record, uint64, error)
	// Store writes snap under key if it is still at revision rev (0:
	// absent) and returns the new revision; errConflict when it is not.
	Store(ctx context.Context, key string, snap report.Record, rev uint64) (uint64, error)
}
