package core

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
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

// PostTrigger is a post event as the fetcher reads it.
type PostTrigger struct {
	Location string
	PostID   string
	Change   PostChange
	TagIDs   []string
}

// maxIDLen bounds a post or tag id (see ghl.ValidID).
const maxIDLen = ghl.MaxIDLen

// Validate checks what the fetcher and the workers after it rely on: a
// post id and tag ids that are 1 to 64 letters and digits (they become
// parts of keys and message ids) and a change that applies to posts. It
// fails with ErrInvalidPost.
func (p PostTrigger) Validate() error {
	if !ghl.ValidID(p.PostID) {
		return fmt.Errorf("%w: post_id %q: want 1 to %d letters and digits", ErrInvalidPost, clip(p.PostID), maxIDLen)
	}
	switch p.Change {
	case PostUnspecified, PostCreated, PostUpdated, PostDeleted:
	default:
		return fmt.Errorf("%w: change %d does not apply to posts", ErrInvalidPost, p.Change)
	}
	for i, id := range p.TagIDs {
		if !ghl.ValidID(id) {
			return fmt.Errorf("%w: tag_ids[%d] %q: want 1 to %d letters and digits", ErrInvalidPost, i, clip(id), maxIDLen)
		}
	}
	return nil
}

// clip shortens input quoted in an error.
func clip(s string) string {
	if len(s) > maxIDLen {
		return s[:maxIDLen] + "…"
	}
	return s
}

// PolledPost is a post as the posts poller sees it in a listing.
type PolledPost struct {
	ID     string
	TagIDs []string
	// Created is a post never updated since its creation.
	Created   bool
	Deleted   bool
	UpdatedAt time.Time
}

// PollCursor is the posts poller's position for one location, stored in
// the socialsync_relations bucket under "pollcursor.<loc>":
// {"since":RFC3339,"polledAt":RFC3339}. Since is the latest update time
// already turned into post events; PolledAt when the last poll began (a
// claim, so that one replica polls a location per interval).
type PollCursor struct {
	Since    time.Time `json:"since"`
	PolledAt time.Time `json:"polledAt"`
}

// Updated returns the posts updated after cursor.Since, oldest first, and
// the cursor's new Since: the latest update time among them, or the old
// one when there are none. Posts without an id or update time are left
// out.
func Updated(posts []PolledPost, cursor PollCursor) ([]PolledPost, time.Time) {
	since := cursor.Since
	var out []PolledPost
	for _, p := range posts {
		if !ghl.ValidID(p.ID) || p.UpdatedAt.IsZero() || !p.UpdatedAt.After(cursor.Since) {
			continue
		}
		out = append(out, p)
		if p.UpdatedAt.After(since) {
			since = p.UpdatedAt
		}
	}
	slices.SortStableFunc(out, func(a, b PolledPost) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, since
}

// PollDue reports whether a location whose poll last began at polledAt
// is due at now for another poll every interval.
func PollDue(now, polledAt time.Time, interval time.Duration) bool {
	return polledAt.IsZero() || !now.Before(polledAt.Add(interval)) || polledAt.After(now.Add(interval))
}
