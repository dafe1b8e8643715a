package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	// StreamTriggers holds the trigger subjects with interest retention: a
	// post trigger stays until the fetcher, contactsync and the enricher
	// have all acked it. It also sources the statistics runs that
	// schedules fire.
	StreamTriggers = "SOCIALSYNC_TRIGGERS"
	// StreamEvents holds the event subjects for 30 days, for replay and
	// outside subscribers.
	StreamEvents = "SOCIALSYNC_EVENTS"
	// StreamRefresh is the work queue of catalogue refreshes, one pending
	// message per location.
	StreamRefresh = "SOCIALSYNC_REFRESH"
	// StreamSchedules holds one message schedule per location and the
	// messages the schedules fire.
	StreamSchedules = "SOCIALSYNC_SCHEDULES"
	// StreamDLQ holds dead letters for 14 days.
	StreamDLQ = "SOCIALSYNC_DLQ"
)

// Durable consumer names: one per worker and stream, shared by every
// replica of the worker. A worker's dead letters go to
// "socialsync.dlq.<durable>.<loc>".
const (
	DurableFetcher     = "fetcher"
	DurableEnricher    = "enricher"
	DurableStats       = "stats"
	DurableContactSync = "contactsync"
	// DurableSegments is contactsync's durable for segment recomputations.
	DurableSegments = "segments"
)

// Key-value bucket and object store names.
const (
	BucketTags         = "socialsync_tags"
	BucketTagDetails   = "socialsync_tag_details"
	BucketRelations    = "socialsync_relations"
	BucketStatsHistory = "socialsync_stats_history"
	BucketSegments     = "socialsync_segments"
	BucketWorkflows    = "socialsync_workflows"
	BucketLocations    = "socialsync_locations"
	BucketTokens       = "socialsync_tokens"
	BucketRateBudget   = "socialsync_rate_budget"
	ObjectStoreReports = "socialsync_reports"
	// BucketSettings holds per-location settings: statistics schedule
	// and retention, field mappings (see pkg/settings).
	BucketSettings = "socialsync_settings"
	// BucketWorkflowRuns records each workflow action done for an event,
	// so that a redelivered event does not fire it again.
	BucketWorkflowRuns = "socialsync_workflow_runs"
	// BucketDeliveries keeps, per durable and stream sequence, the history
	// of a redelivered message: its delivery whose handler runs, its
	// crashes and failures, for the crash-loop guard and the backoff. See
	// deliveries.go.
	BucketDeliveries = "socialsync_deliveries"
)

// BucketWebhookEvents remembers the event ids the gateway's webhook
// accepted for WebhookEventsTTL, longer than a signature stays valid, so
// that a replayed request is answered as a duplicate after the streams'
// duplicate window too.
const BucketWebhookEvents = "socialsync_webhook_events"

// Topology defaults.
const (
	// DuplicateWindow is how long a stream remembers a Nats-Msg-Id.
	DuplicateWindow = 2 * time.Minute
	// DefaultAckWait is how long a consumer waits for an ack before it
	// delivers again; a running handler extends it with InProgress.
	DefaultAckWait = 30 * time.Second
	// DefaultMaxAckPending bounds the unacknowledged messages of one
	// durable consumer, across all its replicas. A deferred message (Defer:
	// NakWithDelay) still counts as pending until it is redelivered, so the
	// bound must hold a paced location's whole backlog: with 256, 400
	// events deferred for one location held every other location's first
	// event back for 13.6 s; with 10,000, 1,000 deferred cost 3 s once.
	// The pending list lives in the server; workers pull only what their
	// concurrency allows.
	DefaultMaxAckPending = 10_000
	// DefaultRetryHorizon is how long after it was published a message
	// whose handler keeps failing with a retryable error is retried before
	// it becomes a dead letter. It must be shorter than the MaxAge of
	// every stream a consumer reads (CheckRetryHorizon).
	DefaultRetryHorizon = 24 * time.Hour
	// DefaultCrashLimit is how many redeliveries of a message may have
	// their handler cut short (the process died while it ran) before it is
	// dead-lettered without running its handler again.
	DefaultCrashLimit = 3
	// DeliveriesTTL is how long BucketDeliveries keeps a count after its
	// last write: well beyond the longest wait a nak asks for (a day).
	DeliveriesTTL = 3 * 24 * time.Hour
	// WebhookEventsTTL is how long BucketWebhookEvents keeps an event id:
	// more than the span in which one signed request stays acceptable
	// (its timestamp may be five minutes ahead or behind).
	WebhookEventsTTL = 15 * time.Minute
)

// ConsumerSpec declares a durable pull consumer.
type ConsumerSpec struct {
	// Stream is the stream the consumer reads.
	Stream string
	// Config is sent to the server as is. Its MaxDeliver is -1
	// (unlimited): the number of deliveries decides nothing, since a
	// deferred message may be delivered any number of times. Retryable
	// failures are bounded by the consumer's retry horizon, deliveries
	// that end without a settle by its crash limit (ConsumerOptions).
	Config jetstream.ConsumerConfig
	// SilentBadInput lists the subject families this durable reads whose
	// bad input another durable owns: this one acks such a message without
	// a dead letter and counts it (MetricBadInputAcked), so that one bad
	// message leaves one dead letter. NewTopology derives it from the
	// owner of each family read by several durables.
	SilentBadInput []Family
}

// Topology is every stream, consumer, key-value bucket and object store of
// socialsync. Ensure creates or updates them.
type Topology struct {
	Streams      []jetstream.StreamConfig
	Consumers    []ConsumerSpec
	KeyValues    []jetstream.KeyValueConfig
	ObjectStores []jetstream.ObjectStoreConfig
}

// TopologyOptions adapt the topology to a deployment. The zero value is
// the embedded single-server topology.
type TopologyOptions struct {
	// Replicas of every stream, consumer, bucket and object store:
	// 1 when zero; 3 on a production cluster.
	Replicas int
	// Storage defaults to file storage.
	Storage jetstream.StorageType
	// MaxMessageBytes bounds a message of the trigger and event streams;
	// DefaultMaxMessageBytes when zero.
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
}

// maxBytes returns the limit of the store whose stream is name.
func (o TopologyOptions) maxBytes(name string) int64 {
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

// NewTopology returns socialsync's topology:
//
//	stream                subjects                              retention                 limits
//	SOCIALSYNC_TRIGGERS   socialsync.trigger.>                  interest                  7 days, dup window 2m, discard new,
//	                                                                                      2,000 per subject (discard new per subject)
//	                      + sources socialsync.scheduled.stats.* from SOCIALSYNC_SCHEDULES as socialsync.trigger.stats.*
//	SOCIALSYNC_EVENTS     socialsync.event.>                    limits                    30 days, dup window 2m, discard new
//	SOCIALSYNC_REFRESH    socialsync.refresh.catalogue.*        work queue                1 per subject (replaced), 2 days, discard new
//	SOCIALSYNC_SCHEDULES  socialsync.schedule.stats.*,          limits, message schedules 1 per subject, discard old
//	                      socialsync.scheduled.stats.*
//	SOCIALSYNC_DLQ        socialsync.dlq.>                      limits                    14 days, dup window 2m, discard old
//
// Every stream, bucket and object store has a MaxBytes (TopologyOptions,
// Footprints). Triggers, events and refreshes are never deleted
// unprocessed to make room: a full stream refuses a new message
// (ErrStreamFull), and a location whose trigger subject holds
// MaxTriggersPerSubject unfinished triggers has its new ones of that kind
// refused (ErrSubjectFull) while every other location's are stored. The
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
//	contactsync           SOCIALSYNC_EVENTS    socialsync.event.{tag,tagdetails,stats,segment}.* (new messages only)
//	segments              SOCIALSYNC_TRIGGERS  socialsync.trigger.segments.*
//
// The enricher reads post triggers as well as tag details requests, with
// one durable filtering both subjects, to keep the post ↔ tag relations;
// interest retention then keeps a post trigger until the fetcher,
// contactsync and the enricher have all acked it. Its durable on
// SOCIALSYNC_EVENTS only acts on tag deletions (it marks the stored
// details deleted): the details of new and renamed tags come from the
// fetcher's TagDetailsRequested, so that they are fetched once.
//
// The gateway reads SOCIALSYNC_EVENTS with an ordered consumer per replica
// (every replica serves every dashboard), so it has no durable here.
func NewTopology(opts TopologyOptions) Topology {
	replicas := max(opts.Replicas, 1)
	storage := opts.Storage
	maxMsg := opts.MaxMessageBytes
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessageBytes
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
	badInputOwners := map[Family]string{
		PostTriggers: DurableContactSync,
		TagEvents:    DurableContactSync,
	}

	streams := []jetstream.StreamConfig{
		{
			Name:        StreamSchedules,
			Description: "One statistics schedule per location and the runs it fires.",
			Subjects:    []string{StatsSchedules.Filter(), ScheduledStats.Filter()},
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
			MaxAge: 7 * day,
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
			MaxAge:      30 * day,
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
			Name:        StreamDLQ,
			Description: "Dead letters: original bytes, headers naming the reason.",
			Subjects:    []string{DeadLetterPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      14 * day,
			// At its limit the oldest dead letters give way.
			Discard:    jetstream.DiscardOld,
			MaxBytes:   opts.maxBytes(StreamDLQ),
			Duplicates: DuplicateWindow,
			Storage:    storage,
			Replicas:   replicas,
		},
	}

	consumer := func(stream, durable, desc string, deliver jetstream.DeliverPolicy, filters ...string) ConsumerSpec {
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
		spec := ConsumerSpec{Stream: stream, Config: cfg}
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
	consumers := []ConsumerSpec{
		consumer(StreamTriggers, DurableFetcher, "Post triggers → catalogue refresh requests.", all, PostTriggers.Filter()),
		consumer(StreamTriggers, DurableContactSync, "Post triggers → contact tags.", all, PostTriggers.Filter()),
		consumer(StreamTriggers, DurableEnricher, "Tag details requests and post triggers → details, location tags, post ↔ tag relations.", all,
			TagDetailsTriggers.Filter(), PostTriggers.Filter()),
		consumer(StreamTriggers, DurableStats, "Statistics requests, scheduled or on demand.", all, StatsTriggers.Filter()),
		refresh,
		consumer(StreamEvents, DurableEnricher, "Tag deletions → stored details marked deleted.", fresh, TagEvents.Filter()),
		consumer(StreamEvents, DurableContactSync, "Tag, tag details and statistics events → contact tags and segments.", fresh,
			TagEvents.Filter(), TagDetailsEvents.Filter(), StatsEvents.Filter(), SegmentEvents.Filter()),
		consumer(StreamTriggers, DurableSegments, "Segment recomputations of a location.", all, SegmentTriggers.Filter()),
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
	deliveries := kv(BucketDeliveries, "Delivery history per durable and message: crashes and failures, not deferrals.", 1)
	deliveries.TTL = DeliveriesTTL
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
		rate,
		webhookEvents,
		runs,
		deliveries,
	}
	objects := []jetstream.ObjectStoreConfig{
		{Bucket: ObjectStoreReports, Description: "Generated reports.", Storage: storage, Replicas: replicas,
			MaxBytes: opts.maxBytes("OBJ_" + ObjectStoreReports)},
	}
	return Topology{Streams: streams, Consumers: consumers, KeyValues: keyValues, ObjectStores: objects}
}

// CheckRetryHorizon fails when horizon is not shorter than the MaxAge of
// a stream that one of the topology's durables reads: a message must
// become a dead letter before its stream drops it.
func (t Topology) CheckRetryHorizon(horizon time.Duration) error {
	read := map[string]bool{}
	for _, c := range t.Consumers {
		read[c.Stream] = true
	}
	for _, s := range t.Streams {
		if read[s.Name] && s.MaxAge > 0 && horizon >= s.MaxAge {
			return fmt.Errorf("retry horizon %v is not shorter than stream %s's max age %v", horizon, s.Name, s.MaxAge)
		}
	}
	return nil
}

// Consumer returns the spec of durable on stream.
func (t Topology) Consumer(stream, durable string) (ConsumerSpec, bool) {
	for _, c := range t.Consumers {
		if c.Stream == stream && c.Config.Durable == durable {
			return c, true
		}
	}
	return ConsumerSpec{}, false
}

// Ensure creates what is missing and updates what differs, in order:
// streams, consumers, key-value buckets, object stores. Running it again
// changes nothing. Consumers are created before anything can be published:
// an interest-retention stream drops a message that no consumer is
// interested in at the time it is stored.
//
// A change the server cannot apply in place (a stream's retention or
// storage, a consumer's deliver policy) fails Ensure with the server's
// error; nothing is deleted to make it fit.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	var errs []error
	for _, cfg := range t.Streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("ensure stream %s: %w", cfg.Name, noRoom(err)))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, c := range t.Consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config); err != nil {
			errs = append(errs, fmt.Errorf("ensure consumer %s on %s: %w", c.Config.Durable, c.Stream, err))
		}
	}
	for _, cfg := range t.KeyValues {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("ensure key-value bucket %s: %w", cfg.Bucket, noRoom(err)))
		}
	}
	for _, cfg := range t.ObjectStores {
		if _, err := js.CreateOrUpdateObjectStore(ctx, cfg); err != nil {
			errs = append(errs, fmt.Errorf("ensure object store %s: %w", cfg.Bucket, noRoom(err)))
		}
	}
	return errors.Join(errs...)
}

// jsInsufficientResources is the JetStream error code of a stream whose
// MaxBytes the server cannot reserve (JSInsufficientResourcesErr).
const jsInsufficientResources jetstream.ErrorCode = 10047

// noRoom explains a server that cannot reserve a store's limit.
func noRoom(err error) error {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.ErrorCode == jsInsufficientResources {
		return fmt.Errorf("%w: the server reserves every stream's and bucket's size limit, and their sum is more than its "+
			"JetStream storage (max_file_store): lower SOCIALSYNC_LIMIT_FLEET_LOCATIONS or SOCIALSYNC_LIMIT_<NAME>_BYTES, "+
			"or give the server more (docs/storage.md)", err)
	}
	return err
}

// Ensure creates or updates the default topology, NewTopology with zero
// options.
func Ensure(ctx context.Context, js jetstream.JetStream) error {
	return NewTopology(TopologyOptions{}).Ensure(ctx, js)
}

// OpenBuckets opens the KV buckets the topology declares into the
// variables buckets maps their names to, naming the first that fails.
func OpenBuckets(ctx context.Context, js jetstream.JetStream, buckets map[string]*jetstream.KeyValue) error {
	for name, kv := range buckets {
		var err error
		if *kv, err = js.KeyValue(ctx, name); err != nil {
			return fmt.Errorf("open bucket %s: %w", name, err)
		}
	}
	return nil
}
