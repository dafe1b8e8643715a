package topology

import (
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/bus"
)

// Storage limit defaults. Every stream, key-value bucket and object store
// has a MaxBytes: the per-location footprint of Footprints times the
// number of locations the fleet is sized for, times LimitHeadroom, unless
// Options.MaxBytes names another figure. docs/storage.md shows
// the same table (FootprintTable).
const (
	// DefaultLimitLocations is the fleet size the default limits are
	// computed for.
	DefaultLimitLocations = 100
	// LimitHeadroom multiplies the computed footprint: bursts, a stalled
	// worker, estimates on the low side.
	LimitHeadroom = 2
	// MinMaxBytes is the smallest default limit: a small fleet still gets
	// room for a few large messages and the store's own records.
	MinMaxBytes int64 = 16 << 20
	// DefaultMaxTriggersPerSubject is the default per-location quota of
	// SOCIALSYNC_TRIGGERS: the unfinished triggers one subject (one kind
	// of trigger of one location) may hold. A location at its quota has
	// its new triggers of that kind refused (bus.ErrSubjectFull) while every
	// other location's are taken: about 13 weeks of a busy location's
	// post triggers, or a backlog of 2,000 posts while its HighLevel
	// budget is spent.
	DefaultMaxTriggersPerSubject = 2_000
)

// Footprint is what one location stores in one stream, bucket or object
// store: records of RecordBytes each (payload, headers and the store's
// own overhead per message), PerDay new ones a day kept for Days, plus
// Kept records of state that does not flow.
type Footprint struct {
	// Name is the stream, bucket or object store name.
	Name string
	// RecordBytes is the stored size of one message, record or revision.
	RecordBytes int64
	// PerDay is how many records a busy location adds a day.
	PerDay int64
	// Days is how long they stay: the MaxAge, or the longest backlog the
	// stream holds before its MaxAge.
	Days int64
	// Kept is how many records of state a location holds, revisions
	// included.
	Kept int64
	// Basis says where the counts come from.
	Basis string
}

// PerLocation is the bytes one location stores.
func (f Footprint) PerLocation() int64 { return f.RecordBytes * (f.PerDay*f.Days + f.Kept) }

// MaxBytes is the default limit for a fleet of locations locations:
// PerLocation × locations × LimitHeadroom, rounded up to a MiB, at least
// MinMaxBytes.
func (f Footprint) MaxBytes(locations int) int64 {
	n := f.PerLocation() * int64(max(locations, 1)) * LimitHeadroom
	const mib = 1 << 20
	n = (n + mib - 1) / mib * mib
	return max(n, MinMaxBytes)
}

// Footprints is the per-location footprint of every stream, bucket and
// object store, for a busy location: 20 posts a day with 3 tags and 10
// contacts each, a catalogue of 200 tags, statistics 4 times a day over 5
// profiles, 10 segments. Message sizes were measured on the server (a
// post trigger with its trace headers: about 450 bytes; a
// ContactTagsChanged: 300; a StatsSnapshot: 440); record sizes of the
// buckets are estimates from their JSON.
var Footprints = []Footprint{
	{Name: StreamTriggers, RecordBytes: 450, PerDay: 20 + 20 + 4 + 40, Days: 7,
		Basis: "20 post, 20 tag details, 4 statistics, 40 segment triggers a day; a backlog of up to 7 days (a paused location holds at most its per-subject quota)"},
	{Name: StreamEvents, RecordBytes: 350, PerDay: 200 + 20 + 20 + 40 + 5 + 1, Days: 30,
		Basis: "200 contact (one per contact of a post event), 20 statistics, 20 tag details, 40 segment, 5 tag events and 1 recommendation a day, 30 days"},
	{Name: StreamRefresh, RecordBytes: 450, Kept: 1, Basis: "at most one pending refresh"},
	{Name: StreamSchedules, RecordBytes: 400, Kept: 2, Basis: "one schedule and one fired run"},
	{Name: bus.StreamDLQ, RecordBytes: 1_000, PerDay: 5, Days: 14, Basis: "5 dead letters a day (original bytes and reason headers), 14 days"},
	{Name: StreamAudit, RecordBytes: 300, PerDay: 2, Days: 180, Basis: "2 audited actions a day (pauses, replays, admin key use), 180 days"},
	{Name: "KV_" + BucketTags, RecordBytes: 12_000, Kept: 5, Basis: "the catalogue of 200 tags, 5 revisions"},
	{Name: "KV_" + BucketTagDetails, RecordBytes: 300, Kept: 200, Basis: "one record per tag"},
	{Name: "KV_" + BucketRelations, RecordBytes: 300, PerDay: 20 * 5, Days: 365,
		Basis: "5 records a post (the post, its contacts, one per tag), 20 posts a day, a year: kept without TTL, so it grows"},
	{Name: "KV_" + BucketStatsHistory, RecordBytes: 5_000, PerDay: 1, Days: 400, Basis: "one snapshot a day, 400 days"},
	{Name: "KV_" + BucketSegments, RecordBytes: 2_000, Kept: 10 * 5, Basis: "10 segments, 5 revisions"},
	{Name: "KV_" + BucketWorkflows, RecordBytes: 2_000, Kept: 5 * 10, Basis: "5 workflows, 10 revisions"},
	{Name: "KV_" + BucketLocations, RecordBytes: 1_000, Kept: 5, Basis: "the location, 5 revisions"},
	{Name: "KV_" + BucketSettings, RecordBytes: 1_000, Kept: 2 * 5, Basis: "schedule and mappings, 5 revisions"},
	{Name: "KV_" + BucketTokens, RecordBytes: 2_000, Kept: 5, Basis: "the sealed tokens, 5 revisions"},
	{Name: "KV_" + BucketRateBudget, RecordBytes: 200, Kept: 4, Basis: "window and daily counters"},
	{Name: "KV_" + BucketSources, RecordBytes: 500, Kept: 1, Basis: "at most one webhook source binding per location (sources are few)"},
	{Name: "KV_" + BucketWebhookEvents, RecordBytes: 250, PerDay: 20 + 200, Days: 1,
		Basis: "event ids of 3 hours (a day's worth): post events and HighLevel's contact webhooks (200 contact tag changes a day)"},
	{Name: "KV_" + BucketWorkflowRuns, RecordBytes: 250, PerDay: 40, Days: 30, Basis: "2 workflow actions per post, 30 days"},
	{Name: "KV_" + bus.BucketDeliveries, RecordBytes: 250, PerDay: 3 * (20 + 20 + 4 + 40), Days: 3,
		Basis: "every trigger of a day handed back at least once by each of its readers, 3 days (a hand-back this bucket cannot record may count as a crash)"},
	{Name: "KV_" + BucketContactRefs, RecordBytes: 300, PerDay: 200, Days: 30,
		Basis: "one answer per contact named by email, phone or external id: up to 200 a day (10 contacts of 20 posts), 30 days (TTL)"},
	{Name: "KV_" + BucketOAuthStates, RecordBytes: 400, Kept: 1,
		Basis: "an authorization waiting for its callback (10 minutes TTL); agencies' schedules and tokens are fewer than their locations'"},
	{Name: "KV_" + bus.BucketSchema, RecordBytes: 200, Kept: 5, Basis: "the fleet's schema minimum, 5 revisions"},
	{Name: "OBJ_" + ObjectStoreReports, RecordBytes: 100_000, Kept: 12, Basis: "12 reports of 100 KB"},
}

// footprint returns the footprint of the store whose stream is name.
func footprint(name string) (Footprint, bool) {
	for _, f := range Footprints {
		if f.Name == name {
			return f, true
		}
	}
	return Footprint{}, false
}

// LimitVar is the environment variable that sets the MaxBytes of the
// stream, bucket or object store name (a stream name such as
// "SOCIALSYNC_TRIGGERS", or a bucket's "KV_socialsync_tags" or
// "OBJ_socialsync_reports"): SOCIALSYNC_LIMIT_<NAME>_BYTES with NAME
// without its socialsync prefix, in upper case (TRIGGERS, TAGS, REPORTS).
func LimitVar(name string) string {
	n := strings.ToUpper(name)
	for _, p := range []string{"KV_", "OBJ_"} {
		n = strings.TrimPrefix(n, p)
	}
	n = strings.TrimPrefix(n, "SOCIALSYNC_")
	return "SOCIALSYNC_LIMIT_" + n + "_BYTES"
}

// FootprintTable is the Markdown table of Footprints with the default
// limits for a fleet of locations locations, as docs/storage.md shows it.
func FootprintTable(locations int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| store | variable | bytes per record | records per location | per location | default for %d locations | basis |\n", locations)
	b.WriteString("|---|---|---:|---:|---:|---:|---|\n")
	for _, f := range Footprints {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s |\n", f.Name, LimitVar(f.Name), f.RecordBytes, f.PerDay*f.Days+f.Kept,
			human(f.PerLocation()), human(f.MaxBytes(locations)), f.Basis)
	}
	return b.String()
}

// human formats n bytes in KiB, MiB or GiB.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
