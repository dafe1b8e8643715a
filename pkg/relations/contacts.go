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
	// PostAt maps each post (by post key) to the occurredAt of the post
	// event that last changed the contact's entry for it (linked, retagged
	// or unlinked: an unlinked post keeps its time), so that an older event
	// of the post handled later changes nothing: the outcome is that of
	// handling the post's events in occurredAt order. Events without an
	// occurredAt are not ordered.
	PostAt map[string]time.Time `json:"postAt,omitempty"`
	// Applied are the contact tags socialsync has applied, sorted.
	Applied []string `json:"applied"`
	// HighLevel is what HighLevel last said the contact carries (its
	// ContactTagUpdate webhook); nil until one arrived.
	HighLevel *HighLevelTags `json:"highLevel,omitempty"`
	// Removed are the contact tags someone removed by hand in HighLevel
	// that socialsync respects, by contact tag (lower case): socialsync
	// leaves such a tag off the contact, even though its posts carry it,
	// until one of those posts' tags change (Removal.Holds). They are not
	// in Applied. Reconciliation under the "respect" policy writes them,
	// and so does HighLevel's ContactTagUpdate webhook when it shows a
	// social tag gone that socialsync did not remove; contactsync's
	// planning reads them.
	Removed map[string]Removal `json:"removed,omitempty"`
	// Written is when contactsync last stored the state for a change of
	// its own (a post event, a tag change, a repair). A write that only
	// records what a HighLevel webhook said leaves it: reconciliation
	// leaves out the contacts socialsync wrote in the last minute
	// (HighLevel's search lags), not the ones HighLevel told it about.
	// Zero in states stored before it existed: the entry's time stands in.
	Written time.Time `json:"written,omitzero"`
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

// Removal is one contact tag removed by hand: the posts that gave the
// contact the tag, with the social tag names each carried, when the
// removal was noticed, and by what ("reconcile", "webhook").
type Removal struct {
	Posts map[string][]string `json:"posts"`
	At    time.Time           `json:"at"`
	By    string              `json:"by,omitempty"`
}

// Holds reports whether the removal still stands for a contact whose
// posts are posts, given the contact tag each social tag name stands for
// (tagOf, lower case): every post giving the contact the tag is one it
// recorded, with the same social tags. A post that gains or loses a tag,
// or another post bringing the tag, ends it.
func (r Removal) Holds(tag string, posts map[string][]string, tagOf func(name string) string) bool {
	found := false
	for p, names := range posts {
		if !slices.ContainsFunc(names, func(n string) bool { return tagOf(n) == tag }) {
			continue
		}
		was, ok := r.Posts[p]
		if !ok || !slices.Equal(sortedCopy(was), sortedCopy(names)) {
			return false
		}
		found = true
	}
	return found
}

// RemovedByHand returns s with tag recorded as removed by hand at at, by
// by: the posts that give the contact tag (tagOf as in Holds) are
// remembered with their tags, and tag leaves Applied. A tag none of the
// contact's posts gives is not recorded (there is nothing to leave off).
func (s ContactState) RemovedByHand(tag string, tagOf func(name string) string, at time.Time, by string) ContactState {
	out := s.Clone()
	r := Removal{Posts: map[string][]string{}, At: at.UTC(), By: by}
	for p, names := range s.Posts {
		if slices.ContainsFunc(names, func(n string) bool { return tagOf(n) == tag }) {
			r.Posts[p] = sortedCopy(names)
		}
	}
	out.Applied = slices.DeleteFunc(out.Applied, func(t string) bool { return t == tag })
	if len(r.Posts) == 0 {
		return out
	}
	if out.Removed == nil {
		out.Removed = map[string]Removal{}
	}
	out.Removed[tag] = r
	return out
}

// Equal reports whether s and o hold the same posts, applied tags,
// HighLevel tags and removals.
func (s ContactState) Equal(o ContactState) bool {
	return maps.EqualFunc(s.Posts, o.Posts, slices.Equal[[]string]) && slices.Equal(s.Applied, o.Applied) &&
		s.HighLevel.equal(o.HighLevel) &&
		maps.EqualFunc(s.Removed, o.Removed, func(a, b Removal) bool {
			return a.At.Equal(b.At) && a.By == b.By && maps.EqualFunc(a.Posts, b.Posts, slices.Equal[[]string])
		})
}

func (h *HighLevelTags) equal(o *HighLevelTags) bool {
	if h == nil || o == nil {
		return h == o
	}
	return slices.Equal(h.Tags, o.Tags) && h.At.Equal(o.At) && h.WebhookID == o.WebhookID
}

// Clone returns a deep copy of s with non-nil Posts and Applied.
func (s ContactState) Clone() ContactState {
	out := ContactState{Posts: make(map[string][]string, len(s.Posts)), Applied: slices.Clone(s.Applied), Written: s.Written}
	for id, names := range s.Posts {
		out.Posts[id] = slices.Clone(names)
	}
	if out.Applied == nil {
		out.Applied = []string{}
	}
	if len(s.PostAt) > 0 {
		out.PostAt = maps.Clone(s.PostAt)
	}
	if s.HighLevel != nil {
		hl := *s.HighLevel
		hl.Tags = slices.Clone(hl.Tags)
		out.HighLevel = &hl
	}
	if len(s.Removed) > 0 {
		out.Removed = make(map[string]Removal, len(s.Removed))
		for t, r := range s.Removed {
			posts := make(map[string][]string, len(r.Posts))
			for p, names := range r.Posts {
				posts[p] = slices.Clone(names)
			}
			out.Removed[t] = Removal{Posts: posts, At: r.At, By: r.By}
		}
	}
	return out
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
