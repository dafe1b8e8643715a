package cli

import (
	"context"
	"time"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/fleet"
	automationworker "github.com/socialsync/socialsync/services/automation"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/contactsync/reconcile"
	"github.com/socialsync/socialsync/services/enricher"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/stats"
)

// The constructors below wire a worker on a process's dependencies as its
// own main does (services/<worker>/cmd): the all-in-one binary, the
// benchmarks and the deployment tests compose the same workers.

// NewFetcher returns the fetcher on d.
func NewFetcher(ctx context.Context, cfg fetcher.Config, d *fleet.Deps) (*fetcher.Worker, error) {
	s, err := fetcher.OpenStores(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	return fetcher.New(cfg, fetcher.Deps{Publisher: d.Publisher, Locations: d.Creds,
		Client:     func(loc string) fetcher.Client { return d.Client(loc) },
		Catalogues: s.Catalogues, Cursors: s.Cursors, Refreshes: s.Refreshes, Log: d.Log})
}

// NewEnricher returns the enricher on d.
func NewEnricher(ctx context.Context, cfg enricher.Config, d *fleet.Deps) (*enricher.Worker, error) {
	s, err := enricher.OpenStores(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	return enricher.New(cfg, enricher.Deps{Publisher: d.Publisher, Locations: d.Creds,
		Client:  func(loc string) enricher.Client { return d.Client(loc) },
		Details: s.Details, Relations: s.Relations, Naming: s.Naming})
}

// NewStats returns the statistics worker on d.
func NewStats(ctx context.Context, cfg stats.Config, d *fleet.Deps) (*stats.Worker, error) {
	s, err := stats.OpenStores(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	return stats.New(cfg, stats.Deps{Publisher: d.Publisher, Locations: d.Creds,
		Client:  func(loc string) stats.Client { return d.Client(loc) },
		History: stats.KVHistory{KV: s.History}, FollowUps: stats.KVFollowUps{Stores: s}, Stores: s, Log: d.Log,
		Connector: d.Connector(), Conn: d.Conn, Doctor: d.Doctor(),
		Remover: &stats.Remover{JS: d.JS, Store: d.Creds, Client: d.Client, Now: time.Now},
		Audit:   audit.New(d.JS, nil)})
}

// NewContactSync returns contactsync on d.
func NewContactSync(ctx context.Context, cfg contactsync.Config, d *fleet.Deps) (*contactsync.Worker, error) {
	s, err := contactsync.OpenStores(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	gc := d.Governor.Config()
	return contactsync.New(cfg, contactsync.Deps{Publisher: d.Publisher, Pacer: d.Governor,
		Client:     func(loc string) contactsync.Client { return d.Client(loc) },
		Catalogues: s.Catalogues, Details: s.Details, Relations: s.Relations, ContactRefs: s.ContactRefs, Mappings: s.Mappings,
		States: s.States, Locations: d.Creds, Budget: reconcile.Budget{Max: gc.Max, Window: gc.Window, Daily: gc.Daily},
		DeadLetters: s.DeadLetters, Purge: s.Purge, Meter: d.Telemetry.MeterProvider(), Log: d.Log})
}

// NewAutomation returns the automation worker on d.
func NewAutomation(ctx context.Context, cfg automationworker.Config, d *fleet.Deps) (*automationworker.Worker, error) {
	s, err := automationworker.OpenStores(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	// socialsync_locations{state} and socialsync_location_needs_reauth.
	if _, err := d.Directory.WatchStates(d.Telemetry.MeterProvider()); err != nil {
		return nil, err
	}
	return automationworker.New(cfg, automationworker.Deps{Publisher: d.Publisher, Locations: d.Creds,
		Client:   func(loc string) automationworker.Client { return d.Client(loc) },
		Segments: s.Segments, Relations: s.Relations, Runs: s.Runs, SegmentDefs: s.SegmentDefs, Workflows: s.Workflows, Mappings: s.Mappings,
		Outbox: s.Outbox, DeadLetters: s.DeadLetters, Notices: s.Notices, Meter: d.Telemetry.MeterProvider(), Log: d.Log})
}
