package fleet

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
)

// StorageLimits size the streams, buckets and object store (see
// docs/storage.md). Config holds them under SOCIALSYNC_LIMIT_
// (SOCIALSYNC_LIMIT_TRIGGERS_BYTES); read them alone with
// envconfig.Process(LimitsPrefix, &l). The operator step (socialsync
// topology apply) sizes the topology with them; give every process the
// same values, as with SOCIALSYNC_STREAM_REPLICAS, since the all-in-one
// binary applies its own and every process reports the limits it expects. A byte limit left unset is its footprint
// times SOCIALSYNC_LIMIT_FLEET_LOCATIONS (topology.Footprints).
type StorageLimits struct {
	FleetLocations     int   `envconfig:"FLEET_LOCATIONS" default:"100" desc:"number of locations the default storage limits are sized for (docs/storage.md)"`
	TriggersPerSubject int64 `envconfig:"TRIGGERS_PER_SUBJECT" default:"2000" desc:"unfinished triggers of one kind one location may hold; more are refused (the gateway answers 503)"`

	Triggers      ByteSize `envconfig:"TRIGGERS_BYTES" desc:"size limit of SOCIALSYNC_TRIGGERS (bytes, or 512MiB, 2GiB; default from the footprint)"`
	Events        ByteSize `envconfig:"EVENTS_BYTES" desc:"size limit of SOCIALSYNC_EVENTS"`
	Refresh       ByteSize `envconfig:"REFRESH_BYTES" desc:"size limit of SOCIALSYNC_REFRESH"`
	Schedules     ByteSize `envconfig:"SCHEDULES_BYTES" desc:"size limit of SOCIALSYNC_SCHEDULES"`
	DLQ           ByteSize `envconfig:"DLQ_BYTES" desc:"size limit of SOCIALSYNC_DLQ (the oldest dead letters give way)"`
	Audit         ByteSize `envconfig:"AUDIT_BYTES" desc:"size limit of SOCIALSYNC_AUDIT (the oldest audit entries give way)"`
	Tags          ByteSize `envconfig:"TAGS_BYTES" desc:"size limit of the socialsync_tags bucket"`
	TagDetails    ByteSize `envconfig:"TAG_DETAILS_BYTES" desc:"size limit of the socialsync_tag_details bucket"`
	Relations     ByteSize `envconfig:"RELATIONS_BYTES" desc:"size limit of the socialsync_relations bucket"`
	StatsHistory  ByteSize `envconfig:"STATS_HISTORY_BYTES" desc:"size limit of the socialsync_stats_history bucket"`
	Segments      ByteSize `envconfig:"SEGMENTS_BYTES" desc:"size limit of the socialsync_segments bucket"`
	Workflows     ByteSize `envconfig:"WORKFLOWS_BYTES" desc:"size limit of the socialsync_workflows bucket"`
	Locations     ByteSize `envconfig:"LOCATIONS_BYTES" desc:"size limit of the socialsync_locations bucket"`
	Settings      ByteSize `envconfig:"SETTINGS_BYTES" desc:"size limit of the socialsync_settings bucket"`
	Tokens        ByteSize `envconfig:"TOKENS_BYTES" desc:"size limit of the socialsync_tokens bucket"`
	RateBudget    ByteSize `envconfig:"RATE_BUDGET_BYTES" desc:"size limit of the socialsync_rate_budget bucket"`
	WebhookEvents ByteSize `envconfig:"WEBHOOK_EVENTS_BYTES" desc:"size limit of the socialsync_webhook_events bucket"`
	Sources       ByteSize `envconfig:"SOURCES_BYTES" desc:"size limit of the socialsync_sources bucket"`
	WorkflowRuns  ByteSize `envconfig:"WORKFLOW_RUNS_BYTES" desc:"size limit of the socialsync_workflow_runs bucket"`
	Deliveries    ByteSize `envconfig:"DELIVERIES_BYTES" desc:"size limit of the socialsync_deliveries bucket"`
	ContactRefs   ByteSize `envconfig:"CONTACT_REFS_BYTES" desc:"size limit of the socialsync_contact_refs bucket"`
	OAuthStates   ByteSize `envconfig:"OAUTH_STATES_BYTES" desc:"size limit of the socialsync_oauth_states bucket"`
	Schema        ByteSize `envconfig:"SCHEMA_BYTES" desc:"size limit of the socialsync_schema bucket"`
	Reports       ByteSize `envconfig:"REPORTS_BYTES" desc:"size limit of the socialsync_reports object store"`
}

// LimitsPrefix is the envconfig prefix of StorageLimits read alone.
const LimitsPrefix = "socialsync_limit"

// DefaultStorageLimits is StorageLimits with its struct tags' defaults.
func DefaultStorageLimits() StorageLimits {
	return StorageLimits{FleetLocations: topology.DefaultLimitLocations, TriggersPerSubject: topology.DefaultMaxTriggersPerSubject}
}

// minLimit is the smallest byte limit accepted: a stream must hold at
// least one message of the largest size (bus.DefaultMaxMessageBytes).
const minLimit = 1 << 20

// byName maps each store's stream name to its limit.
func (l StorageLimits) byName() map[string]ByteSize {
	return map[string]ByteSize{
		topology.StreamTriggers: l.Triggers, topology.StreamEvents: l.Events, topology.StreamRefresh: l.Refresh,
		topology.StreamSchedules: l.Schedules, bus.StreamDLQ: l.DLQ, topology.StreamAudit: l.Audit,
		"KV_" + topology.BucketTags: l.Tags, "KV_" + topology.BucketTagDetails: l.TagDetails, "KV_" + topology.BucketRelations: l.Relations,
		"KV_" + topology.BucketStatsHistory: l.StatsHistory, "KV_" + topology.BucketSegments: l.Segments, "KV_" + topology.BucketWorkflows: l.Workflows,
		"KV_" + topology.BucketLocations: l.Locations, "KV_" + topology.BucketSettings: l.Settings, "KV_" + topology.BucketTokens: l.Tokens,
		"KV_" + topology.BucketRateBudget: l.RateBudget, "KV_" + topology.BucketWebhookEvents: l.WebhookEvents,
		"KV_" + topology.BucketSources: l.Sources, "KV_" + topology.BucketWorkflowRuns: l.WorkflowRuns, "KV_" + bus.BucketDeliveries: l.Deliveries,
		"KV_" + topology.BucketContactRefs:   l.ContactRefs,
		"KV_" + topology.BucketOAuthStates:   l.OAuthStates,
		"KV_" + bus.BucketSchema:             l.Schema,
		"OBJ_" + topology.ObjectStoreReports: l.Reports,
	}
}

// Validate names the variable of a limit that cannot be used.
func (l StorageLimits) Validate() error {
	var errs []error
	// Zero stands for the default (a Config built in code).
	if l.FleetLocations < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_LIMIT_FLEET_LOCATIONS: want 1 or more, got %d", ErrConfig, l.FleetLocations))
	}
	if l.TriggersPerSubject < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_LIMIT_TRIGGERS_PER_SUBJECT: want 1 or more, got %d", ErrConfig, l.TriggersPerSubject))
	}
	for name, n := range l.byName() {
		if n != 0 && n < minLimit {
			errs = append(errs, fmt.Errorf("%w: %s: want at least 1MiB (a stream holds messages of up to 1 MiB), got %d bytes", ErrConfig, topology.LimitVar(name), n))
		}
	}
	return errors.Join(errs...)
}

// Topology returns the topology options of these limits with replicas.
func (l StorageLimits) Topology(replicas int) topology.Options {
	opts := topology.Options{Replicas: replicas, Locations: l.FleetLocations, MaxTriggersPerSubject: l.TriggersPerSubject,
		MaxBytes: map[string]int64{}}
	for name, n := range l.byName() {
		if n > 0 {
			opts.MaxBytes[name] = int64(n)
		}
	}
	return opts
}

// ByteSize is a size in bytes read from the environment: a whole number
// of bytes, or one followed by KiB, MiB, GiB or TiB (also KB, MB, GB, TB
// in powers of 1000).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

// Decode parses s (envconfig.Decoder); an empty s is zero, the default.
func (b *ByteSize) Decode(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*b = 0
		return nil
	}
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("want a positive size such as 536870912, 512MiB or 2GiB")
	}
	*b = ByteSize(n * mult)
	return nil
}
