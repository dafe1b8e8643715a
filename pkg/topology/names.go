package topology

import "time"

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
)

// Durable consumer names: one per worker and stream, shared by every
// replica of the worker. A worker's dead letters go to
// "socialsync.dlq.<durable>.<loc>".
const (
	DurableFetcher     = "fetcher"
	DurableEnricher    = "enricher"
	DurableStats       = "stats"
	DurableContactSync = "contactsync"
	// DurableSegments is the automation worker's durable for segment
	// membership: on SOCIALSYNC_TRIGGERS the recomputations of a whole
	// location, on SOCIALSYNC_EVENTS the contacts whose tags changed.
	DurableSegments = "segments"
	// DurableWorkflows is the automation worker's durable for saved
	// workflows, on SOCIALSYNC_EVENTS.
	DurableWorkflows = "workflows"
	// DurableHighLevelContacts is contactsync's durable for the contact
	// changes HighLevel's webhooks announce, on SOCIALSYNC_TRIGGERS.
	DurableHighLevelContacts = "contactsync-highlevel"
	// DurableReconcile is contactsync's durable for reconciliations, on
	// SOCIALSYNC_TRIGGERS: its own, so that a long reconciliation holds
	// no post trigger back.
	DurableReconcile = "reconcile"
	// DurableRemap is contactsync's durable for the re-application of a
	// location's changed contact-tag template, on SOCIALSYNC_TRIGGERS.
	DurableRemap = "remap"
	// DurableNotifier is the automation worker's durable for the
	// operator's notifications: on SOCIALSYNC_EVENTS the location state
	// changes, on SOCIALSYNC_DLQ every new dead letter. One durable shared
	// by the replicas delivers each event to one of them: it notifies once.
	DurableNotifier = "notifier"
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
)

// BucketContactRefs caches, per location, the HighLevel contact each
// contact reference of a post event (an email, a phone number, an
// external id) was found or created as, under a keyed hash of the
// reference, for ContactRefsTTL; contactsync owns it.
const BucketContactRefs = "socialsync_contact_refs"

// ContactRefsPattern is the pattern of every key loc has in
// BucketContactRefs: contactsync keeps each under the location's id, and
// a removal purges them all (contactsync.RefPatterns).
func ContactRefsPattern(loc string) string { return loc + ".>" }

// ContactRefsTTL is how long BucketContactRefs keeps an answer: a contact
// merged or deleted in HighLevel is looked up again after it at the
// latest.
const ContactRefsTTL = 30 * 24 * time.Hour

// DeadLettersMaxAge is how long SOCIALSYNC_DLQ keeps a dead letter by
// default (SOCIALSYNC_RETENTION_DEAD_LETTERS).
const DeadLettersMaxAge = 14 * 24 * time.Hour

// EventsMaxAge is how long SOCIALSYNC_EVENTS keeps an event by default
// (SOCIALSYNC_RETENTION_EVENTS).
const EventsMaxAge = 30 * 24 * time.Hour

// TriggersMaxAge is how long SOCIALSYNC_TRIGGERS keeps an unfinished
// trigger: longer than a location may stay paused (SOCIALSYNC_PAUSE_MAX,
// 30 days by default), so that its held work is still there when it
// resumes.
const TriggersMaxAge = 35 * 24 * time.Hour

// The audit log (pkg/audit): who did what to which location, kept
// AuditMaxAge.
const (
	StreamAudit = "SOCIALSYNC_AUDIT"
	AuditPrefix = "socialsync.audit"
	AuditMaxAge = 180 * 24 * time.Hour
)

// BucketWebhookEvents remembers the event ids the gateway's webhook
// accepted for WebhookEventsTTL, longer than a signature stays valid, so
// that a replayed request is answered as a duplicate after the streams'
// duplicate window too.
const BucketWebhookEvents = "socialsync_webhook_events"

// BucketSources holds one record per webhook source: the locations and
// companies it may speak for (see pkg/sources, its owner). It holds no
// secret.
const BucketSources = "socialsync_sources"

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
	// WebhookEventsTTL is how long BucketWebhookEvents keeps an event id:
	// more than the span in which one signed request stays acceptable.
	// HighLevel's deliveries (webhookId) set it: a timestamp is accepted
	// up to HighLevelWebhookWindow either side of now, and HighLevel
	// retries a 429 six times ten minutes apart, so an id is kept for
	// twice the window and more.
	WebhookEventsTTL = 3 * time.Hour
	// HighLevelWebhookWindow is how far the timestamp of a HighLevel
	// webhook delivery may be from now: more than the 70 minutes over
	// which HighLevel retries a delivery answered 429.
	HighLevelWebhookWindow = 75 * time.Minute
)

// The hosted OAuth flow and agency installs.
const (
	// BucketOAuthStates holds the authorizations `socialsync connect
	// --hosted` started, under the SHA-256 of their state, for
	// OAuthStateTTL; the gateway's callback takes each once (creds.AuthRequests).
	BucketOAuthStates = "socialsync_oauth_states"
	// OAuthStateTTL is how long an issued state may come back.
	OAuthStateTTL = 10 * time.Minute
	// SubjectOAuthConnect is the core NATS request-reply subject (no
	// stream) on which the gateway hands what HighLevel sent it (an
	// authorization code, an INSTALL or UNINSTALL webhook) to the worker
	// that holds the token key and the app's client secret, and waits
	// for the outcome (creds.Connector).
	SubjectOAuthConnect = "socialsync.oauth.connect"
	// QueueOAuthConnect is the queue group of its responders: one
	// replica answers each request.
	QueueOAuthConnect = "socialsync-oauth-connect"
	// DurableAgency is the stats worker's durable for agency syncs, on
	// SOCIALSYNC_TRIGGERS.
	DurableAgency = "agency"
	// DurableRemove is the stats worker's durable for location
	// removals (RemoveTriggers), on SOCIALSYNC_TRIGGERS.
	DurableRemove = "remove"
	// AgencySyncEvery is how often an agency's schedule asks for a sync.
	AgencySyncEvery = 6 * time.Hour
)
