package relations

import (
	"maps"
	"slices"
	"time"
)

// ContactState is what contactsync knows of one contact, stored as JSON
// under "contact.<loc>.<contactId>" (ContactKey): contactsync writes it,
// the automation worker reads it for segment membership and workflow
// selections. A contact HighLevel says was deleted has no state.
type ContactState struct {
	// Posts maps each of the contact's posts (by post key) to the names
	// of the social tags it carries.
	Posts map[string][]string `json:"posts"`
	// Applied are the contact tags socialsync has applied, sorted.
	Applied []string `json:"applied"`
	// HighLevel is what HighLevel last said the contact carries (its
	// ContactTagUpdate webhook); nil until one arrived.
	HighLevel *HighLevelTags `json:"highLevel,omitempty"`
	// RemovedByHand are the contact tags of Applied that were removed in
	// HighLevel by someone other than socialsync (a ContactTagUpdate
	// without them that socialsync's own writes do not explain), each
	// with when HighLevel said so. A tag HighLevel reports again leaves
	// it. Applied still lists them: what to do about them is the
	// location's policy ("repair" adds them back, "respect" leaves them
	// off until the post's tags change), applied by reconciliation and
	// the tagging of later events, which read this field.
	RemovedByHand map[string]time.Time `json:"removedByHand,omitempty"`
}

// HighLevelTags are a contact's tags as one HighLevel webhook reported
// them.
type HighLevelTags struct {
	// Tags are the contact's tags, all of them (socialsync's and the
	// others), sorted.
	Tags []string `json:"tags"`
	// At is when HighLevel said so (the delivery's timestamp, else when
	// it was received); an older delivery arriving later is not applied.
	At time.Time `json:"at"`
	// WebhookID is the delivery's webhookId (or its body hash).
	WebhookID string `json:"webhookId,omitempty"`
}

// Equal reports whether s and o hold the same posts, applied tags,
// HighLevel tags and removals by hand.
func (s ContactState) Equal(o ContactState) bool {
	return maps.EqualFunc(s.Posts, o.Posts, slices.Equal[[]string]) && slices.Equal(s.Applied, o.Applied) &&
		s.HighLevel.equal(o.HighLevel) && maps.EqualFunc(s.RemovedByHand, o.RemovedByHand, time.Time.Equal)
}

func (h *HighLevelTags) equal(o *HighLevelTags) bool {
	if h == nil || o == nil {
		return h == o
	}
	return slices.Equal(h.Tags, o.Tags) && h.At.Equal(o.At) && h.WebhookID == o.WebhookID
}

// Clone returns a deep copy of s with non-nil Posts and Applied.
func (s ContactState) Clone() ContactState {
	out := ContactState{Posts: make(map[string][]string, len(s.Posts)), Applied: slices.Clone(s.Applied)}
	for id, names := range s.Posts {
		out.Posts[id] = slices.Clone(names)
	}
	if out.Applied == nil {
		out.Applied = []string{}
	}
	if s.HighLevel != nil {
		hl := *s.HighLevel
		hl.Tags = slices.Clone(hl.Tags)
		out.HighLevel = &hl
	}
	if s.RemovedByHand != nil {
		out.RemovedByHand = maps.Clone(s.RemovedByHand)
	}
	return out
}
