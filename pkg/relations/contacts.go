package relations

import (
	"maps"
	"slices"
)

// ContactState is what contactsync knows of one contact, stored as JSON
// under "contact.<loc>.<contactId>" (ContactKey): contactsync writes it,
// the automation worker reads it for segment membership and workflow
// selections.
type ContactState struct {
	// Posts maps each of the contact's posts (by post key) to the names
	// of the social tags it carries.
	Posts map[string][]string `json:"posts"`
	// Applied are the contact tags socialsync has applied, sorted.
	Applied []string `json:"applied"`
}

// Equal reports whether s and o hold the same posts and applied tags.
func (s ContactState) Equal(o ContactState) bool {
	return maps.EqualFunc(s.Posts, o.Posts, slices.Equal[[]string]) && slices.Equal(s.Applied, o.Applied)
}

// Clone returns a deep copy of s with non-nil fields.
func (s ContactState) Clone() ContactState {
	out := ContactState{Posts: make(map[string][]string, len(s.Posts)), Applied: slices.Clone(s.Applied)}
	for id, names := range s.Posts {
		out.Posts[id] = slices.Clone(names)
	}
	if out.Applied == nil {
		out.Applied = []string{}
	}
	return out
}
