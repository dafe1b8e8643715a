package enrichment

import (
	"github.com/socialsync/socialsync/pkg/relations"
	"slices"
	"time"
)

// PostChange is what happened to a post. Its values are those of the
// message contract's Change; Renamed applies to tags only.
type PostChange int

// The post changes a trigger may carry. Unspecified means "created or
// updated".
const (
	PostUnspecified PostChange = 0
	PostCreated     PostChange = 1
	PostUpdated     PostChange = 2
	PostDeleted     PostChange = 3
)

// PostUpdate is a post event as the enricher reads it, checked by
// bus.CheckPostEvent.
type PostUpdate struct {
	// PostKey stands for the post in keys and lists: its id in the
	// sending system encoded with its source (ids.Key).
	PostKey string
	Change  PostChange
	// TagIDs are the tags the post carries now.
	TagIDs []string
	// OccurredAt is when the change happened at the source; zero when the
	// source did not say.
	OccurredAt time.Time
}

// PostPlan is what a post event does to the relations.
type PostPlan struct {
	// Target are the tags the post must be listed under afterwards.
	Target []string
	// Check are the tags whose post lists may have to change: the
	// target's, the stored record's and the event's.
	Check []string
	// Write says whether the post's record changes: it is stored as
	// Record, or deleted when Delete.
	Write  bool
	Delete bool
	Record relations.PostRecord
}

// PlanPost decides what event u does to a post whose stored record is
// stored (nil: none), at now:
//
//   - an event older than the stored record (both dated) is stale: the
//     post stays listed under the stored tags, and nothing is written;
//   - a deletion removes the record and lists the post under no tag;
//   - otherwise the record becomes the event's tags, dated by the event
//     (or now when the event carries no date), and the post is listed
//     under exactly those tags.
//
// Write is false when the record would not change, so that a redelivered
// event writes nothing.
func PlanPost(stored *relations.PostRecord, u PostUpdate, now time.Time) PostPlan {
	p := planPost(stored, u, now)
	check := slices.Concat(p.Target, u.TagIDs)
	if stored != nil {
		check = append(check, stored.TagIDs...)
	}
	p.Check = uniq(check)
	return p
}

func planPost(stored *relations.PostRecord, u PostUpdate, now time.Time) PostPlan {
	if stored != nil && !u.OccurredAt.IsZero() && !stored.UpdatedAt.IsZero() && u.OccurredAt.Before(stored.UpdatedAt) {
		return PostPlan{Target: uniq(stored.TagIDs)}
	}
	if u.Change == PostDeleted {
		return PostPlan{Write: stored != nil, Delete: true}
	}
	tags := uniq(u.TagIDs)
	at := u.OccurredAt
	if at.IsZero() {
		at = now
	}
	rec := relations.PostRecord{TagIDs: tags, UpdatedAt: at.UTC()}
	write := stored == nil || !slices.Equal(stored.TagIDs, tags) ||
		// An undated redelivery does not move the date.
		(!u.OccurredAt.IsZero() && !stored.UpdatedAt.Equal(rec.UpdatedAt))
	return PostPlan{Target: tags, Write: write, Record: rec}
}
