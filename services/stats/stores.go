package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/report/source"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Stores are the statistics worker's stores on JetStream; KVHistory and
// KVFollowUps serve the handler from them.
type Stores struct {
	History   jetstream.KeyValue // socialsync_stats_history
	Locations jetstream.KeyValue // socialsync_locations, watched by the schedules
	Settings  jetstream.KeyValue // socialsync_settings
	Relations jetstream.KeyValue // socialsync_relations
	Details   jetstream.KeyValue // socialsync_tag_details
	Reports   jetstream.ObjectStore
	Schedules jetstream.Stream // SOCIALSYNC_SCHEDULES
}

// OpenStores opens the worker's buckets, object store and stream, which
// the process's topology declared.
func OpenStores(ctx context.Context, js jetstream.JetStream) (Stores, error) {
	var s Stores
	if err := bus.OpenBuckets(ctx, js, map[string]*jetstream.KeyValue{
		topology.BucketStatsHistory: &s.History, topology.BucketLocations: &s.Locations, topology.BucketSettings: &s.Settings,
		topology.BucketRelations: &s.Relations, topology.BucketTagDetails: &s.Details,
	}); err != nil {
		return Stores{}, err
	}
	var err error
	if s.Reports, err = js.ObjectStore(ctx, topology.ObjectStoreReports); err != nil {
		return Stores{}, fmt.Errorf("open object store %s: %w", topology.ObjectStoreReports, err)
	}
	if s.Schedules, err = js.Stream(ctx, topology.StreamSchedules); err != nil {
		return Stores{}, fmt.Errorf("open stream %s: %w", topology.StreamSchedules, err)
	}
	return s, nil
}

// KVHistory is History on the socialsync_stats_history bucket.
type KVHistory struct{ KV jetstream.KeyValue }

// Load implements History.
func (h KVHistory) Load(ctx context.Context, key string) (*report.Record, uint64, error) {
	e, err := h.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read statistics snapshot %s: %w", key, err)
	}
	var s report.Record
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		// Not ours to keep: a later store replaces it.
		return nil, e.Revision(), nil
	}
	return &s, e.Revision(), nil
}

// Store implements History.
func (h KVHistory) Store(ctx context.Context, key string, snap report.Record, rev uint64) (uint64, error) {
	data, err := json.Marshal(snap)
	if err != nil {
		return 0, fmt.Errorf("encode statistics snapshot %s: %w", key, err)
	}
	rev, err = revision.Put(ctx, h.KV, key, data, rev)
	if errors.Is(err, revision.ErrConflict) {
		return 0, fmt.Errorf("store statistics snapshot %s: %w", key, errConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("store statistics snapshot %s: %w", key, err)
	}
	return rev, nil
}

// KVFollowUps are FollowUps on the worker's JetStream stores.
type KVFollowUps struct{ Stores Stores }

// Settings implements FollowUps.
func (f KVFollowUps) Settings(ctx context.Context, loc string) (settings.Stats, error) {
	return settings.GetStats(ctx, f.Stores.Settings, loc)
}

// Mapping implements FollowUps.
func (f KVFollowUps) Mapping(ctx context.Context, loc string) (settings.Mapping, bool, error) {
	return settings.GetMapping(ctx, f.Stores.Settings, loc)
}

// HistoryDays implements FollowUps.
func (f KVFollowUps) HistoryDays(ctx context.Context, loc string) ([]string, error) {
	return source.HistoryDays(ctx, f.Stores.History, loc)
}

// Prune implements FollowUps.
func (f KVFollowUps) Prune(ctx context.Context, key string) error {
	return f.Stores.History.Purge(ctx, key)
}

// Build implements FollowUps.
func (f KVFollowUps) Build(ctx context.Context, loc string, tz *time.Location, from, to string, now time.Time) (report.Report, error) {
	return source.Buckets{History: f.Stores.History, Relations: f.Stores.Relations, Details: f.Stores.Details}.Build(ctx, loc, tz, from, to, now)
}

// StoreReport implements FollowUps: r in every format, under its range's
// name and as the location's latest.
func (f KVFollowUps) StoreReport(ctx context.Context, r report.Report) (string, error) {
	for _, format := range report.Formats() {
		var b bytes.Buffer
		if err := report.Write(&b, r, format); err != nil {
			return "", fmt.Errorf("render report of %s as %s: %w", r.Location, format, err)
		}
		for _, name := range []string{report.Name(r.Location, r.From, r.To, format), report.LatestName(r.Location, format)} {
			meta := jetstream.ObjectMeta{Name: name, Description: "socialsync report of " + r.Location + ", " + r.From + " … " + r.To,
				Headers: map[string][]string{"Content-Type": {format.ContentType()}}}
			if _, err := f.Stores.Reports.Put(ctx, meta, bytes.NewReader(b.Bytes())); err != nil {
				return "", fmt.Errorf("store report %s: %w", name, err)
			}
		}
	}
	return report.Name(r.Location, r.From, r.To, report.JSON), nil
}
