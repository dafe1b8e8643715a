package tagging

import (
	"maps"
	"slices"
	"strings"
)

// State is what contactsync knows of one contact, stored as JSON under
// "contact.<loc>.<contactId>" in the relations bucket.
type State struct {
	// Posts maps each of the contact's posts to the names of the social
	// tags it carries.
	Posts map[string][]string `json:"posts"`
	// Applied are the contact tags socialsync has applied, sorted.
	Applied []string `json:"applied"`
}

// Equal reports whether s and o hold the same posts and applied tags.
func (s State) Equal(o State) bool {
	return maps.EqualFunc(s.Posts, o.Posts, slices.Equal[[]string]) && slices.Equal(s.Applied, o.Applied)
}

// clone returns a deep copy of s with non-nil fields.
func (s State) clone() State {
	out := State{Posts: make(map[string][]string, len(s.Posts)), Applied: slices.Clone(s.Applied)}
	for id, names := range s.Posts {
		out.Posts[id] = slices.Clone(names)
	}
	if out.Applied == nil {
		out.Applied = []string{}
	}
	return out
}

// PostChange is what one post event means for one contact: the post now
// carries Tags (social tag names), or, when Unlink is set, the post no
// longer concerns the contact (it was deleted, or no longer lists the
// contact).
type PostChange struct {
	PostID string
	Tags   []string
	Unlink bool
}

// Diff is the contact tags to add to and remove from one contact.
type Diff struct {
	Add    []string
	Remove []string
}

// Empty reports whether d changes nothing.
func (d Diff) Empty() bool { return len(d.Add) == 0 && len(d.Remove) == 0 }

// Merge returns the writes of d followed by those of next: a tag written
// by both ends up as next wrote it.
func (d Diff) Merge(next Diff) Diff {
	add, remove := set(d.Add), set(d.Remove)
	for _, t := range next.Add {
		add[t] = true
		delete(remove, t)
	}
	for _, t := range next.Remove {
		remove[t] = true
		delete(add, t)
	}
	return Diff{Add: sorted(add), Remove: sorted(remove)}
}

// ContactTag returns the contact tag standing for a social tag: prefix
// and name, trimmed and lower-cased as HighLevel stores contact tags (so
// that what is applied compares equal to what HighLevel reports).
func ContactTag(prefix, name string) string {
	return strings.ToLower(strings.TrimSpace(prefix + strings.TrimSpace(name)))
}

// Plan applies change to the contact state st and returns the next state
// and the contact tag writes that take the contact from st.Applied to the
// next state's Applied: the union of the contact tags of all its posts.
// A tag another of the contact's posts still carries is therefore kept
// when one post drops it. Applying a change st already reflects plans no
// write, so a redelivered event writes nothing.
//
// written is what an earlier attempt of this same change wrote to
// HighLevel before it found st changed by someone else (another replica
// handling another post of the contact). Those writes may have undone
// what st records, so Plan also re-adds a tag written as removed that the
// contact should have, and removes one written as added that it should
// not, even when st.Applied already says so. Pass an empty Diff on the
// first attempt.
func Plan(st State, change PostChange, prefix string, written Diff) (State, Diff) {
	return PlanNamed(st, change, func(name string) string { return ContactTag(prefix, name) }, written)
}

// PlanNamed is Plan with the contact tag of a social tag named by tag (a
// location's naming template) rather than by a prefix. tag's result is
// trimmed and lower-cased, as HighLevel stores contact tags. A change of
// naming takes effect on a contact's next change: its tags under the old
// names are removed and those under the new ones added.
func PlanNamed(st State, change PostChange, tag func(name string) string, written Diff) (State, Diff) {
	next := st.clone()
	if change.Unlink {
		delete(next.Posts, change.PostID)
	} else {
		next.Posts[change.PostID] = names(change.Tags)
	}
	desired := map[string]bool{}
	for _, ns := range next.Posts {
		for _, n := range ns {
			if t := ContactTag("", tag(n)); t != "" {
				desired[t] = true
			}
		}
	}
	applied := set(st.Applied)
	add, remove := map[string]bool{}, map[string]bool{}
	for t := range desired {
		if !applied[t] {
			add[t] = true
		}
	}
	for t := range applied {
		if !desired[t] {
			remove[t] = true
		}
	}
	for _, t := range written.Remove {
		if desired[t] {
			add[t] = true
		}
	}
	for _, t := range written.Add {
		if !desired[t] {
			remove[t] = true
		}
	}
	next.Applied = sorted(desired)
	return next, Diff{Add: sorted(add), Remove: sorted(remove)}
}

// names returns the trimmed, non-empty, distinct tag names, sorted.
func names(in []string) []string {
	s := map[string]bool{}
	for _, n := range in {
		if n = strings.TrimSpace(n); n != "" {
			s[n] = true
		}
	}
	return sorted(s)
}

func set(in []string) map[string]bool {
	s := make(map[string]bool, len(in))
	for _, v := range in {
		s[v] = true
	}
	return s
}

// sorted returns the members of s in order, never nil.
func sorted(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
