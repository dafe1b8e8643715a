package topology

import (
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/bus"
)

// The subject families. The comment names the message each carries.
const (
	// PostTriggers carry PostEvent: outside systems, gateway, poller →
	// fetcher, contactsync.
	PostTriggers bus.Family = "socialsync.trigger.post"
	// TagDetailsTriggers carry TagDetailsRequested: fetcher, anyone → enricher.
	TagDetailsTriggers bus.Family = "socialsync.trigger.tagdetails"
	// StatsTriggers carry StatsRequested: schedules (through
	// ScheduledStats), anyone → stats.
	StatsTriggers bus.Family = "socialsync.trigger.stats"
	// HighLevelContactTriggers carry HighLevelContactChanged: the
	// gateway (HighLevel's ContactTagUpdate and ContactDelete webhooks) →
	// contactsync's DurableHighLevelContacts. They are triggers, not
	// events: work HighLevel asks of socialsync, kept until done (interest
	// retention) and bounded per location, so that a full location is
	// answered 429 and HighLevel delivers again later.
	HighLevelContactTriggers bus.Family = "socialsync.trigger.hlcontact"

	// TagEvents carry TagChanged.
	TagEvents bus.Family = "socialsync.event.tag"
	// TagDetailsEvents carry TagDetailsStored.
	TagDetailsEvents bus.Family = "socialsync.event.tagdetails"
	// StatsEvents carry StatsSnapshot.
	StatsEvents bus.Family = "socialsync.event.stats"
	// ContactEvents carry ContactTagsChanged: contactsync → the automation
	// worker's segments durable, outside subscribers.
	ContactEvents bus.Family = "socialsync.event.contact"
	// LocationEvents carry LocationStateChanged: creds (a location needs
	// re-authorisation, or was connected again) → gateway, operators.
	LocationEvents bus.Family = "socialsync.event.location"
	// RecommendationEvents carry RecommendationsUpdated: stats →
	// gateway, HighLevel workflows' relays, operators.
	RecommendationEvents bus.Family = "socialsync.event.recommendation"

	// CatalogueRefreshes carry the latest PostEvent that asked for a
	// location's tag catalogue to be refreshed. Their stream keeps one
	// message per location, so a burst of post triggers collapses into at
	// most one pending refresh (see the package documentation).
	CatalogueRefreshes bus.Family = "socialsync.refresh.catalogue"

	// StatsSchedules hold one JetStream message schedule per location: a
	// StatsRequested with Nats-Schedule headers, targeting ScheduledStats.
	StatsSchedules bus.Family = "socialsync.schedule.stats"
	// ScheduledStats receive the StatsRequested a schedule fires. The
	// triggers stream sources them as StatsTriggers.
	ScheduledStats bus.Family = "socialsync.scheduled.stats"

	// SegmentTriggers carry SegmentsRecompute: the automation worker (a
	// segment definition, the tags or the statistics of a location
	// changed), anyone → the automation worker's segments durable.
	SegmentTriggers bus.Family = "socialsync.trigger.segments"
	// ReconcileTriggers carry ReconcileRequested: the gateway, `socialsync
	// reconcile`, a location's reconciliation schedule → contactsync's
	// reconcile durable.
	ReconcileTriggers bus.Family = "socialsync.trigger.reconcile"
	// RemapTriggers carry RemapRequested: `socialsync mappings set` (a
	// location's mapping saved) → contactsync's remap durable.
	RemapTriggers bus.Family = "socialsync.trigger.remap"
	// SegmentEvents carry SegmentChanged: the automation worker → its
	// workflows durable, outside subscribers.
	SegmentEvents bus.Family = "socialsync.event.segment"

	// AgencyTriggers carry AgencySyncRequested, keyed by the agency's
	// company id: the agency's schedule (through ScheduledAgency),
	// `socialsync locations sync-agency` → the stats worker's
	// DurableAgency.
	AgencyTriggers bus.Family = "socialsync.trigger.agency"
	// AgencySchedules hold one JetStream message schedule per connected
	// agency: an AgencySyncRequested with Nats-Schedule headers,
	// targeting ScheduledAgency.
	AgencySchedules bus.Family = "socialsync.schedule.agency"
	// ScheduledAgency receive the AgencySyncRequested a schedule fires.
	// The triggers stream sources them as AgencyTriggers.
	ScheduledAgency bus.Family = "socialsync.scheduled.agency"

	// RemoveTriggers carry RemovalRequested: the gateway (DELETE
	// /v1/locations/{loc}) → the stats worker's DurableRemove, which
	// holds the location's token. PurgeLocation keeps them: the removal
	// that purges a location's triggers is one of them.
	RemoveTriggers bus.Family = "socialsync.trigger.remove"
)

// Known reports whether f is one of the families above.
func Known(f bus.Family) bool {
	switch f {
	case PostTriggers, TagDetailsTriggers, StatsTriggers,
		TagEvents, TagDetailsEvents, StatsEvents, ContactEvents, LocationEvents,
		CatalogueRefreshes, StatsSchedules, ScheduledStats:
		return true
	case RecommendationEvents, SegmentTriggers, SegmentEvents, HighLevelContactTriggers, ReconcileTriggers, RemapTriggers:
		return true
	case AgencyTriggers, AgencySchedules, ScheduledAgency, RemoveTriggers:
		return true
	}
	return false
}

// Families are the families above, in the order they are declared.
func Families() []bus.Family {
	return []bus.Family{PostTriggers, TagDetailsTriggers, StatsTriggers,
		TagEvents, TagDetailsEvents, StatsEvents, ContactEvents, LocationEvents, RecommendationEvents,
		CatalogueRefreshes, StatsSchedules, ScheduledStats, SegmentTriggers, SegmentEvents, HighLevelContactTriggers, ReconcileTriggers, RemapTriggers,
		AgencyTriggers, AgencySchedules, ScheduledAgency, RemoveTriggers}
}

// ParseSubject splits a subject of one of the families above into the
// family and the location. It fails with bus.ErrUnknownSubject for a
// subject of no family and with bus.ErrInvalidLocation when the location
// token is not a valid id.
func ParseSubject(subject string) (bus.Family, string, error) {
	f, loc, err := bus.ParseSubject(subject)
	if f != "" && !Known(f) {
		if len(subject) > 128 {
			subject = strings.ToValidUTF8(subject[:128], "") + "…"
		}
		return "", "", fmt.Errorf("%w: %q", bus.ErrUnknownSubject, subject)
	}
	return f, loc, err
}
