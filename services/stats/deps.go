package stats

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/doctor"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/settings"
)

// Deps are what the statistics worker uses. A process gives it the
// fleet's publisher, credential store and HighLevel client, and the stores
// of OpenStores; a handler test gives it fakes of the narrow interfaces
// (the schedules keep to the JetStream stores).
type Deps struct {
	Publisher Publisher
	Locations Locations
	// Client returns the HighLevel client of a location.
	Client    func(loc string) Client
	History   History
	FollowUps FollowUps
	// Stores are the buckets and stream the schedules watch and keep.
	Stores Stores
	Log    *slog.Logger
	// Connector and Conn, when set, make the worker the hosted OAuth
	// flow's credentials holder (agency.go): it answers the gateway on
	// Conn and syncs agencies; nil in handler tests.
	Connector *creds.Connector
	Conn      *nats.Conn
	// Doctor, with Conn, answers the dashboard's test console
	// (doctor.Server); nil in handler tests.
	Doctor *doctor.Server
	// Remover runs the removals the gateway asks for (removal.go), and
	// Audit records them; nil in handler tests and without a token key.
	Remover *Remover
	Audit   *audit.Log
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
	// LearnDetails reads the location's name and time zone from HighLevel
	// through c, unless the operator set them (creds.Store.LearnDetails).
	LearnDetails(ctx context.Context, loc string, c creds.LocationReader) (creds.Location, error)
}

// Client is what the worker asks HighLevel for one location (ghl.Client).
type Client interface {
	Location(ctx context.Context, loc string) (ghl.LocationDetails, error)
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

// FollowUps are what a snapshot's follow-ups read and write besides the
// history: the location's settings, the history's days, the reports.
type FollowUps interface {
	// Settings returns loc's statistics settings (settings.GetStats).
	Settings(ctx context.Context, loc string) (settings.Stats, error)
	// Mapping returns loc's mapping; false when it has none
	// (settings.GetMapping).
	Mapping(ctx context.Context, loc string) (settings.Mapping, bool, error)
	// HistoryDays returns the days of loc's stored snapshots.
	HistoryDays(ctx context.Context, loc string) ([]string, error)
	// Prune deletes the snapshot under key, with its history.
	Prune(ctx context.Context, key string) error
	// Build builds loc's report of from … to from the history and the
	// tags' activity.
	Build(ctx context.Context, loc string, tz *time.Location, from, to string, now time.Time) (report.Report, error)
	// StoreReport stores r in every format and returns the JSON one's
	// name.
	StoreReport(ctx context.Context, r report.Report) (string, error)
}
