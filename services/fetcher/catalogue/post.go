package catalogue

import (
	"cmp"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

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
