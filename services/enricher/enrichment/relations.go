package enrichment

import (
	"encoding/json"
	"fmt"
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

// PostRecord is what the relations bucket keeps of a post under
// "post.<loc>.<postKey>": {"tagIds":[...],"updatedAt":RFC3339}.
type PostRecord struct {
	TagIDs    []string  `json:"tagIds"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// TagPosts is what the relations bucket keeps of a tag under
// "tagposts.<loc>.<tagId>": {"postIds":[...]}, sorted. The list holds
// post keys (ids.Key), the last part of the posts' "post.<loc>.<postKey>".
type TagPosts struct {
	PostIDs []string `json:"postIds"`
}

// Marshal encodes r as stored.
func (r PostRecord) Marshal() ([]byte, error) {
	if r.TagIDs == nil {
		r.TagIDs = []string{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode post record: %w", err)
	}
	return b, nil
}

// UnmarshalPostRecord decodes a stored post record.
func UnmarshalPostRecord(data []byte) (PostRecord, error) {
	var r PostRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return PostRecord{}, fmt.Errorf("decode post record: %w", err)
	}
	return r, nil
}

// Marshal encodes p as stored.
func (p TagPosts) Marshal() ([]byte, error) {
	if p.PostIDs == nil {
		p.PostIDs = []string{}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode tag posts: %w", err)
	}
	return b, nil
}

// UnmarshalTagPosts decodes a stored tag's post list.
func UnmarshalTagPosts(data []byte) (TagPosts, error) {
	var p TagPosts
	if err := json.Unmarshal(data, &p); err != nil {
		return TagPosts{}, fmt.Errorf("decode tag posts: %w", err)
	}
	return p, nil
}

// Has reports whether the tag lists post.
func (p TagPosts) Has(post string) bool {
	_, found := slices.BinarySearch(p.PostIDs, post)
	return found
}

// With returns the list with post in it, sorted.
func (p TagPosts) With(post string) TagPosts {
	ids := slices.Clone(p.PostIDs)
	slices.Sort(ids)
	if i, found := slices.BinarySearch(ids, post); !found {
		ids = slices.Insert(ids, i, post)
	}
	return TagPosts{PostIDs: slices.Compact(ids)}
}

// Without returns the list without post.
func (p TagPosts) Without(post string) TagPosts {
	ids := slices.DeleteFunc(slices.Clone(p.PostIDs), func(id string) bool { return id == post })
	slices.Sort(ids)
	return TagPosts{PostIDs: ids}
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
	Record PostRecord
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
func PlanPost(stored *PostRecord, u PostUpdate, now time.Time) PostPlan {
	p := planPost(stored, u, now)
	check := slices.Concat(p.Target, u.TagIDs)
	if stored != nil {
		check = append(check, stored.TagIDs...)
	}
	p.Check = uniq(check)
	return p
}

func planPost(stored *PostRecord, u PostUpdate, now time.Time) PostPlan {
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
	rec := PostRecord{TagIDs: tags, UpdatedAt: at.UTC()}
	write := stored == nil || !slices.Equal(stored.TagIDs, tags) ||
		// An undated redelivery does not move the date.
		(!u.OccurredAt.IsZero() && !stored.UpdatedAt.Equal(rec.UpdatedAt))
	return PostPlan{Target: tags, Write: write, Record: rec}
}
