package bus

import (
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Family is a family of subjects with one member per location: the family
// "socialsync.trigger.post" holds "socialsync.trigger.post.<loc>". Every
// subject socialsync publishes to, dead letters aside, belongs to a Family.
type Family string

// The subject families. The comment names the message each carries.
const (
	// PostTriggers carry PostEvent: outside systems, gateway, poller →
	// fetcher, contactsync.
	PostTriggers Family = "socialsync.trigger.post"
	// TagDetailsTriggers carry TagDetailsRequested: fetcher, anyone → enricher.
	TagDetailsTriggers Family = "socialsync.trigger.tagdetails"
	// StatsTriggers carry StatsRequested: schedules (through
	// ScheduledStats), anyone → stats.
	StatsTriggers Family = "socialsync.trigger.stats"

	// TagEvents carry TagChanged.
	TagEvents Family = "socialsync.event.tag"
	// TagDetailsEvents carry TagDetailsStored.
	TagDetailsEvents Family = "socialsync.event.tagdetails"
	// StatsEvents carry StatsSnapshot.
	StatsEvents Family = "socialsync.event.stats"
	// ContactEvents carry ContactTagsChanged.
	ContactEvents Family = "socialsync.event.contact"
	// LocationEvents carry LocationStateChanged: creds (a location needs
	// re-authorisation, or was connected again) → gateway, operators.
	LocationEvents Family = "socialsync.event.location"
	// RecommendationEvents carry RecommendationsUpdated: stats →
	// gateway, HighLevel workflows' relays, operators.
	RecommendationEvents Family = "socialsync.event.recommendation"

	// CatalogueRefreshes carry the latest PostEvent that asked for a
	// location's tag catalogue to be refreshed. Their stream keeps one
	// message per location, so a burst of post triggers collapses into at
	// most one pending refresh (see the package documentation).
	CatalogueRefreshes Family = "socialsync.refresh.catalogue"

	// StatsSchedules hold one JetStream message schedule per location: a
	// StatsRequested with Nats-Schedule headers, targeting ScheduledStats.
	StatsSchedules Family = "socialsync.schedule.stats"
	// ScheduledStats receive the StatsRequested a schedule fires. The
	// triggers stream sources them as StatsTriggers.
	ScheduledStats Family = "socialsync.scheduled.stats"

	// SegmentTriggers carry SegmentsRecompute: contactsync (a segment
	// definition, the tags or the statistics of a location changed),
	// anyone → contactsync's segments durable.
	SegmentTriggers Family = "socialsync.trigger.segments"
	// SegmentEvents carry SegmentChanged: contactsync → contactsync's
	// workflows, outside subscribers.
	SegmentEvents Family = "socialsync.event.segment"
)

// Known reports whether f is one of the families above.
func (f Family) Known() bool {
	switch f {
	case PostTriggers, TagDetailsTriggers, StatsTriggers,
		TagEvents, TagDetailsEvents, StatsEvents, ContactEvents, LocationEvents,
		CatalogueRefreshes, StatsSchedules, ScheduledStats:
		return true
	case RecommendationEvents, SegmentTriggers, SegmentEvents:
		return true
	}
	return false
}

const (
	// DeadLetterPrefix starts every dead-letter subject:
	// "socialsync.dlq.<worker>.<loc>".
	DeadLetterPrefix = "socialsync.dlq"

	// invalidLocation stands for the location in the dead-letter subject
	// of a message whose own subject names no valid location. The leading
	// underscore keeps it apart from every valid location id.
	invalidLocation = "_invalid"

	// maxLocationIDLen bounds a location id (see ids.ValidHighLevel).
	maxLocationIDLen = ids.MaxHighLevelLen
	// maxWorkerLen bounds a worker name in a dead-letter subject.
	maxWorkerLen = ids.MaxSourceLen
)

// ValidLocationID reports whether id can be a HighLevel location id: 1 to
// 64 ASCII letters and digits. Only a valid id is ever put into a subject.
func ValidLocationID(id string) bool { return ids.ValidHighLevel(id) }

// ValidName reports whether name can be a worker's token in a dead-letter
// subject, or any other name socialsync puts in a subject or shows as a
// source: 1 to 64 ASCII letters, digits, '-' and '_'.
func ValidName(name string) bool { return ids.ValidSource(name) }

// Subject returns the family's subject for location loc. It fails with
// ErrInvalidLocation, and builds nothing, when loc is not a valid id.
func (f Family) Subject(loc string) (string, error) {
	if !ValidLocationID(loc) {
		return "", fmt.Errorf("%w: %q", ErrInvalidLocation, truncate(loc, maxLocationIDLen))
	}
	return string(f) + "." + loc, nil
}

// Filter returns the filter subject matching every location of the family,
// "<family>.*".
func (f Family) Filter() string { return string(f) + ".*" }

// ParseSubject splits a subject of a known family into the family and the
// location. It fails with ErrUnknownSubject for a subject of no family and
// with ErrInvalidLocation when the location token is not a valid id.
func ParseSubject(subject string) (Family, string, error) {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownSubject, truncate(subject, 128))
	}
	f, loc := Family(subject[:i]), subject[i+1:]
	if !f.Known() {
		return "", "", fmt.Errorf("%w: %q", ErrUnknownSubject, truncate(subject, 128))
	}
	if !ValidLocationID(loc) {
		return f, "", fmt.Errorf("%w: %q", ErrInvalidLocation, truncate(loc, maxLocationIDLen))
	}
	return f, loc, nil
}

// DeadLetterSubject returns "socialsync.dlq.<worker>.<loc>". An invalid
// location becomes "_invalid", so that a message with a bad subject can
// still be dead-lettered; an invalid worker name is an error.
func DeadLetterSubject(worker, loc string) (string, error) {
	if !ids.ValidSource(worker) {
		return "", fmt.Errorf("bus: invalid worker name %q", truncate(worker, maxWorkerLen))
	}
	if !ValidLocationID(loc) {
		loc = invalidLocation
	}
	return DeadLetterPrefix + "." + worker + "." + loc, nil
}

// truncate cuts s to at most n bytes, for error strings that quote input.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
