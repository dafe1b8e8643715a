package bustest

import (
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// PostCase is a post trigger that every consumer of post triggers, the
// gateway and `socialsync trigger post` must treat alike: accept it when
// Valid, refuse it as bad input naming Field otherwise.
type PostCase struct {
	Name  string
	Event *socialsyncv1.PostEvent
	Valid bool
	// Field is the field a refusal names, in the message contract's
	// spelling ("post_id").
	Field string
}

// PostCases returns the shared post trigger cases for location loc,
// carrying tagIDs and contactIDs, dated at now: post ids from other
// systems (accepted) and ids and times no consumer may accept.
func PostCases(loc string, tagIDs, contactIDs []string, now time.Time) []PostCase {
	ev := func(postID, source string, at time.Time) *socialsyncv1.PostEvent {
		return &socialsyncv1.PostEvent{LocationId: loc, PostId: postID, TagIds: tagIDs, ContactIds: contactIDs,
			Source: source, OccurredAt: timestamppb.New(at)}
	}
	return []PostCase{
		{Name: "crm id", Event: ev("crm-post-1", "crm", now), Valid: true},
		{Name: "utf-8 id", Event: ev("Bestellung-ä/42", "shop", now), Valid: true},
		{Name: "257 bytes", Event: ev(strings.Repeat("p", 257), "crm", now), Field: "post_id"},
		{Name: "newline", Event: ev("crm-post\n1", "crm", now), Field: "post_id"},
		{Name: "far future", Event: ev("crm-post-2", "crm", time.Date(9999, time.December, 31, 0, 0, 0, 0, time.UTC)), Field: "occurred_at"},
		{Name: "401 days old", Event: ev("crm-post-3", "crm", now.Add(-401*24*time.Hour)), Field: "occurred_at"},
	}
}
