package topology

import (
	"context"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
)

// Options adapt the topology to a deployment. The zero value is
// the embedded single-server topology.
type Options struct {
	// Replicas of every stream, consumer, bucket and object store:
	// 1 when zero; 3 on a production cluster.
	Replicas int
	// Storage defaults to file storage.
	Storage jetstream.StorageType
	// MaxMessageBytes bounds a message of the trigger and event streams;
	// bus.DefaultMaxMessageBytes when zero.
	MaxMessageBytes int32
	// Locations is the fleet size the default storage limits are computed
	// for (Footprints): DefaultLimitLocations when zero.
	Locations int
	// MaxBytes sets the limit of a stream, bucket or object store by its
	// stream name ("SOCIALSYNC_TRIGGERS", "KV_socialsync_tags",
	// "OBJ_socialsync_reports"); a name it does not hold gets its
	// footprint's default.
	MaxBytes map[string]int64
	// MaxTriggersPerSubject is the per-location quota of
	// SOCIALSYNC_TRIGGERS: DefaultMaxTriggersPerSubject when zero.
	MaxTriggersPerSubject int64
	// ContactRefsTTL, DeadLettersMaxAge and EventsMaxAge are how long
	// socialsync_contact_refs, SOCIALSYNC_DLQ and SOCIALSYNC_EVENTS keep
	// what may be personal data (docs/personal-data.md): ContactRefsTTL,
	// DeadLettersMaxAge and EventsMaxAge when zero.
	ContactRefsTTL, DeadLettersMaxAge, EventsMaxAge time.Duration
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// maxBytes returns the limit of the store whose stream is name.
func (o Options) maxBytes(name string) int64 {
	if n, ok := o.MaxBytes[name]; ok && n > 0 {
		return n
	}
	locations := o.Locations
	if locations <= 0 {
		locations = DefaultLimitLocations
	}
	if f, ok := footprint(name); ok {
		return f.MaxBytes(locations)
	}
	return MinMaxBytes
}

// New returns socialsync's topology:
//
//	stream                subjects                              retention                 limits
//	SOCIALSYNC_TRIGGERS   socialsync.trigger.>                  interest                  35 days, dup window 2m, discard new,
//	                                                                                      2,000 per subject (discard new per subject)
//	                      + sources socialsync.scheduled.stats.* from SOCIALSYNC_SCHEDULES as socialsync.trigger.stats.*
//	                        and socialsync.scheduled.agency.* as socialsync.trigger.agency.*
//	SOCIALSYNC_EVENTS     socialsync.event.>                    limits                    30 days, dup window 2m, discard new
//	SOCIALSYNC_REFRESH    socialsync.refresh.catalogue.*        work queue                1 per subject (replaced), 2 days, discard new
//	SOCIALSYNC_SCHEDULES  socialsync.schedule.stats.*,          limits, message schedules 1 per subject, discard old
//	                      socialsync.scheduled.stats.*, socialsync.schedule.agency.*,
//	                      socialsync.scheduled.agency.*
//	SOCIALSYNC_DLQ        socialsync.dlq.>                      limits                    14 days, dup window 2m, discard old
//	SOCIALSYNC_AUDIT      socialsync.audit.>                    limits                    180 days, discard old
//
// Every stream, bucket and object store has a MaxBytes (Options,
// Footprints). Triggers, events and refreshes are never deleted
// unprocessed to make room: a full stream refuses a new message
// (bus.ErrStreamFull), and a location whose trigger subject holds
// MaxTriggersPerSubject unfinished triggers has its new ones of that kind
// refused (bus.ErrSubjectFull) while every other location's are stored. The
// server forbids discard new on a stream with message schedules, and dead
// letters give way to newer ones.
//
//	consumer (durable)    stream               filter
//	fetcher               SOCIALSYNC_TRIGGERS  socialsync.trigger.post.*
//	contactsync           SOCIALSYNC_TRIGGERS  socialsync.trigger.post.*
//	enricher              SOCIALSYNC_TRIGGERS  socialsync.trigger.{tagdetails,post}.*
//	stats                 SOCIALSYNC_TRIGGERS  socialsync.trigger.stats.*
//	fetcher               SOCIALSYNC_REFRESH   socialsync.refresh.catalogue.*
//	enricher              SOCIALSYNC_EVENTS    socialsync.event.tag.*                    (new messages only)
//	contactsync           SOCIALSYNC_EVENTS    socialsync.event.tag.*                    (new messages only)
//	workflows             SOCIALSYNC_EVENTS    socialsync.event.{tag,tagdetails,stats,segment}.* (new messages only)
//	segments              SOCIALSYNC_EVENTS    socialsync.event.contact.*                (new messages only)
//	segments              SOCIALSYNC_TRIGGERS  socialsync.trigger.segments.*
//	reconcile             SOCIALSYNC_TRIGGERS  socialsync.trigger.reconcile.*
//	remap                 SOCIALSYNC_TRIGGERS  socialsync.trigger.remap.*
//	remove                SOCIALSYNC_TRIGGERS  socialsync.trigger.remove.*
//
// The automation worker reads with workflows and segments: two durables, so
// that a slow workflow delays no membership, and contactsync with its own,
// so that neither delays a contact tag.
//
// The enricher reads post triggers as well as tag details requests, with
// one durable filtering both subjects, to keep the post ↔ tag relations;
// interest retention then keeps a post trigger until the fetcher,
// contactsync and the enricher have all acked it. Its durable on
// SOCIALSYNC_EVENTS only acts on tag deletions (it marks the stored
// details deleted): the details of new and renamed tags come from the
// fetcher's TagDetailsRequested, so that they are fetched once.
// contactsync's durable on SOCIALSYNC_EVENTS follows tag deletions and
// renames on the contact tags it applied.
//
// The gateway reads SOCIALSYNC_EVENTS with an ordered consumer per replica
// (every replica serves every dashboard), so it has no durable here.
func New(opts Options) bus.Topology {
	replicas := max(opts.Replicas, 1)
	storage := opts.Storage
	maxMsg := opts.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = bus.DefaultMaxMessageBytes
	}
	perSubject := opts.MaxTriggersPerSubject
	if perSubject <= 0 {
		perSubject = DefaultMaxTriggersPerSubject
	}
	const day = 24 * time.Hour
	// badInputOwners names, for each subject family that several durables
	// read, the one durable whose dead letter stands for all of them when
	// a message of the family is bad input; the others ack it silently.
	// A family read by one durable needs no entry.
	badInputOwners := map[bus.Family]string{
		PostTriggers: DurableContactSync,
		TagEvents:    DurableWorkflows,
	}

	streams := []jetstream.StreamConfig{
		{
			Name:        StreamSchedules,
			Description: "One statistics schedule per location and the runs it fires.",
			Subjects:    []string{StatsSchedules.Filter(), ScheduledStats.Filter(), AgencySchedules.Filter(), ScheduledAgency.Filter()},
			Retention:   jetstream.LimitsPolicy,
			// A schedule replaces its predecessor (the server adds a
			// subject rollup to every schedule); the fired runs need only
			// live until SOCIALSYNC_TRIGGERS has sourced them.
			MaxMsgsPerSubject: 1,
			// The server refuses discard new with message schedules: at
			// its MaxBytes the oldest schedule would go, so the limit
			// holds every location's two messages many times over.
			Discard:           jetstream.DiscardOld,
			MaxBytes:          opts.maxBytes(StreamSchedules),
			AllowMsgSchedules: true,
			// The server forces these two on for schedules; declaring them
			// keeps Ensure's update a no-op.
			AllowRollup: true,
			DenyPurge:   false,
			MaxMsgSize:  maxMsg,
			Duplicates:  DuplicateWindow,
			Storage:     storage,
			Replicas:    replicas,
		},
		{
			Name:        StreamTriggers,
			Description: "Triggers: kept until every consuming worker has acked them.",
			Subjects:    []string{"socialsync.trigger.>"},
			Retention:   jetstream.InterestPolicy,
			Duplicates:  DuplicateWindow,
			// Interest retention keeps a message as long as one interested
			// durable has not acked it; a bound stops a removed worker
			// from keeping messages forever.
			MaxAge: TriggersMaxAge,
			// Full, the stream refuses new triggers instead of deleting
			// unfinished ones; one location's subject at its quota
			// refuses that location's new triggers of that kind only.
			// A source (the scheduled statistics runs) that the stream
			// refuses is retried by the server from the refused message,
			// holding back the runs behind it (docs/storage.md).
			Discard:              jetstream.DiscardNew,
			MaxBytes:             opts.maxBytes(StreamTriggers),
			MaxMsgsPerSubject:    perSubject,
			DiscardNewPerSubject: true,
			MaxMsgSize:           maxMsg,
			Storage:              storage,
			Replicas:             replicas,
			// A stream with message schedules cannot have sources, and a
			// schedule can only target its own stream; so the schedules
			// live in SOCIALSYNC_SCHEDULES and their runs are sourced here
			// under the trigger subject.
			Sources: []*jetstream.StreamSource{{
				Name: StreamSchedules,
				SubjectTransforms: []jetstream.SubjectTransformConfig{{
					Source:      ScheduledStats.Filter(),
					Destination: string(StatsTriggers) + ".{{wildcard(1)}}",
				}, {
					Source:      ScheduledAgency.Filter(),
					Destination: string(AgencyTriggers) + ".{{wildcard(1)}}",
				}},
			}},
		},
		{
			Name:        StreamRefresh,
			Description: "Pending tag catalogue refreshes, at most one per location.",
			Subjects:    []string{CatalogueRefreshes.Filter()},
			Retention:   jetstream.WorkQueuePolicy,
			// A new refresh replaces the pending one: a burst of post
			// triggers leaves one refresh, and a trigger that arrives
			// while a refresh runs leaves a refresh that runs after it.
			// DiscardNewPerSubject would instead drop that trigger.
			MaxMsgsPerSubject: 1,
			// Discard new without DiscardNewPerSubject: the per-subject
			// limit still replaces a location's pending refresh, while a
			// full stream refuses a new location's instead of dropping
			// another's.
			Discard:  jetstream.DiscardNew,
			MaxBytes: opts.maxBytes(StreamRefresh),
			// Longer than the default retry horizon, which must end
			// before a stream drops the message.
			MaxAge:     2 * day,
			Duplicates: DuplicateWindow,
			MaxMsgSize: maxMsg,
			Storage:    storage,
			Replicas:   replicas,
		},
		{
			Name:        StreamEvents,
			Description: "Events, kept 30 days for replay and outside subscribers.",
			Subjects:    []string{"socialsync.event.>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(opts.EventsMaxAge, EventsMaxAge),
			// Full, the stream refuses new events (the worker publishing
			// one retries) instead of deleting ones not yet read.
			Discard:    jetstream.DiscardNew,
			MaxBytes:   opts.maxBytes(StreamEvents),
			Duplicates: DuplicateWindow,
			MaxMsgSize: maxMsg,
			Storage:    storage,
			Replicas:   replicas,
		},
		{
			Name:        bus.StreamDLQ,
			Description: "Dead letters: original bytes, headers naming the reason.",
			Subjects:    []string{bus.DeadLetterPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      orDefault(opts.DeadLettersMaxAge, DeadLettersMaxAge),
			// At its limit the oldest dead letters give way.
			Discard:    jetstream.DiscardOld,
			MaxBytes:   opts.maxBytes(bus.StreamDLQ),
			Duplicates: DuplicateWindow,
			Storage:    storage,
			Replicas:   replicas,
		},
		{
			Name:        StreamAudit,
			Description: "The audit log: who connected, paused, resumed or removed a location, replays, admin key use.",
			Subjects:    []string{AuditPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      AuditMaxAge,
			// At its limit the oldest entries give way.
			Discard:    jetstream.DiscardOld,
			MaxBytes:   opts.maxBytes(StreamAudit),
			Duplicates: DuplicateWindow,
			Storage:    storage,
			Replicas:   replicas,
		},
	}

	consumer := func(stream, durable, desc string, deliver jetstream.DeliverPolicy, filters ...string) bus.ConsumerSpec {
		cfg := jetstream.ConsumerConfig{
			Durable:       durable,
			Description:   desc,
			DeliverPolicy: deliver,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       DefaultAckWait,
			MaxDeliver:    -1,
			MaxAckPending: DefaultMaxAckPending,
			ReplayPolicy:  jetstream.ReplayInstantPolicy,
			Replicas:      replicas,
		}
		if len(filters) == 1 {
			cfg.FilterSubject = filters[0]
		} else {
			cfg.FilterSubjects = filters
		}
		spec := bus.ConsumerSpec{Stream: stream, Config: cfg}
		for fam, owner := range badInputOwners {
			if owner != durable && slices.Contains(filters, fam.Filter()) {
				spec.SilentBadInput = append(spec.SilentBadInput, fam)
			}
		}
		return spec
	}
	// Trigger and refresh consumers start from the first message: their
	// streams only hold unfinished work. Event consumers start from new
	// messages, so that a worker added later does not replay 30 days.
	all, fresh := jetstream.DeliverAllPolicy, jetstream.DeliverNewPolicy
	refresh := consumer(StreamRefresh, DurableFetcher, "Coalesced catalogue refreshes.", all, CatalogueRefreshes.Filter())
	consumers := []bus.ConsumerSpec{
		consumer(StreamTriggers, DurableFetcher, "Post triggers → catalogue refresh requests.", all, PostTriggers.Filter()),
		consumer(StreamTriggers, DurableContactSync, "Post triggers → contact tags.", all, PostTriggers.Filter()),
		consumer(StreamTriggers, DurableEnricher, "Tag details requests and post triggers → details, location tags, post ↔ tag relations.", all,
			TagDetailsTriggers.Filter(), PostTriggers.Filter()),
		consumer(StreamTriggers, DurableStats, "Statistics requests, scheduled or on demand.", all, StatsTriggers.Filter()),
		refresh,
		consumer(StreamEvents, DurableEnricher, "Tag deletions → stored details marked deleted.", fresh, TagEvents.Filter()),
		consumer(StreamEvents, DurableContactSync, "Tag deletions and renames → the contact tags socialsync applied for them.", fresh, TagEvents.Filter()),
		consumer(StreamEvents, DurableWorkflows, "Tag, tag details, statistics and segment events → saved workflows, segment recomputation requests.", fresh,
			TagEvents.Filter(), TagDetailsEvents.Filter(), StatsEvents.Filter(), SegmentEvents.Filter()),
		consumer(StreamEvents, DurableSegments, "Contact tag changes → the contacts' segment membership.", fresh, ContactEvents.Filter()),
		consumer(StreamTriggers, DurableSegments, "Segment recomputations of a location.", all, SegmentTriggers.Filter()),
		consumer(StreamTriggers, DurableHighLevelContacts, "Contact tag updates and deletions HighLevel announced → contact states, relations, cached references.", all,
			HighLevelContactTriggers.Filter()),
		consumer(StreamTriggers, DurableReconcile, "Reconciliations of a location's contact tags with HighLevel.", all, ReconcileTriggers.Filter()),
		consumer(StreamTriggers, DurableRemap, "A location's changed contact-tag template → the contact tags socialsync applied, renamed.", all, RemapTriggers.Filter()),
		consumer(StreamTriggers, DurableAgency, "Agency syncs: the locations an agency's token lists, connected.", all, AgencyTriggers.Filter()),
		consumer(StreamTriggers, DurableRemove, "Location removals: what socialsync applied purged from HighLevel, the location's records deleted.", all, RemoveTriggers.Filter()),
		consumer(StreamEvents, DurableNotifier, "Location state changes → the operator's notification webhook.", fresh, LocationEvents.Filter()),
		consumer(bus.StreamDLQ, DurableNotifier, "New dead letters → the operator's notification webhook.", fresh, bus.DeadLetterPrefix+".>"),
	}

	kv := func(bucket, desc string, history uint8) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{Bucket: bucket, Description: desc, History: history, Storage: storage, Replicas: replicas,
			MaxBytes: opts.maxBytes("KV_" + bucket)}
	}
	webhookEvents := kv(BucketWebhookEvents, "Event ids the gateway's webhook accepted, for replay detection.", 1)
	webhookEvents.TTL = WebhookEventsTTL
	rate := kv(BucketRateBudget, "Fleet-wide request budget per location.", 1)
	// Daily counters expire with the day; LimitMarkerTTL enables per-key
	// TTLs for the short windows.
	rate.TTL = 25 * time.Hour
	rate.LimitMarkerTTL = time.Minute
	// A workflow run is remembered as long as its event is kept.
	runs := kv(BucketWorkflowRuns, "Workflow actions done, per event.", 1)
	runs.TTL = 30 * day
	deliveries := kv(bus.BucketDeliveries, "Delivery history per durable and message: crashes and failures, not deferrals.", 1)
	deliveries.TTL = bus.DeliveriesTTL
	contactRefs := kv(BucketContactRefs, "HighLevel contact per contact reference (keyed hash), per location.", 1)
	contactRefs.TTL = orDefault(opts.ContactRefsTTL, ContactRefsTTL)
	oauthStates := kv(BucketOAuthStates, "Hosted OAuth authorizations waiting for their callback, by SHA-256 of the state.", 1)
	oauthStates.TTL = OAuthStateTTL
	keyValues := []jetstream.KeyValueConfig{
		kv(BucketTags, "Tag catalogue per location.", 5),
		kv(BucketTagDetails, "Tag details per location and tag.", 1),
		kv(BucketRelations, "Post ↔ tag ↔ contact relations.", 1),
		kv(BucketStatsHistory, "Daily statistics snapshots, kept beyond the API's 7-day window.", 1),
		kv(BucketSegments, "Segment definitions and membership.", 5),
		kv(BucketWorkflows, "Saved workflows.", 10),
		kv(BucketLocations, "Connected locations and their settings.", 5),
		kv(BucketSettings, "Per-location settings: statistics schedule and retention, field mappings.", 5),
		kv(BucketTokens, "Encrypted tokens.", 5),
		kv(BucketSources, "Webhook sources and the locations or companies each may speak for.", 5),
		rate,
		webhookEvents,
		runs,
		deliveries,
		contactRefs,
		oauthStates,
		// The fleet's schema minimum (docs/operations.md, "Upgrading"):
		// history keeps the raises.
		kv(bus.BucketSchema, "The fleet-wide minimum schema version, raised by socialsync migrate.", 5),
	}
	objects := []jetstream.ObjectStoreConfig{
		{Bucket: ObjectStoreReports, Description: "Generated reports.", Storage: storage, Replicas: replicas,
			MaxBytes: opts.maxBytes("OBJ_" + ObjectStoreReports)},
	}
	return bus.Topology{Streams: streams, Consumers: consumers, KeyValues: keyValues, ObjectStores: objects}
}

// Ensure creates or updates the default topology, New with zero
// options.
func Ensure(ctx context.Context, js jetstream.JetStream) error {
	return New(Options{}).Ensure(ctx, js)
}
