package tagging

import (
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/relations"
)

// State is what contactsync knows of one contact (relations.ContactState).
type State = relations.ContactState

// PostChange is what one post event means for one contact: the post now
// carries Tags (social tag names), or, when Unlink is set, the post no
// longer concerns the contact (it was deleted, or no longer lists the
// contact).
type PostChange struct {
	PostID string
	Tags   []string
	Unlink bool
	// At is the post event's occurredAt (zero: none). A change older than
	// the one the state records for the post (State.PostAt) is stale and
	// changes nothing.
	At time.Time
	// Retag, when set, is a change of a social tag rather than of one
	// post; PostID, Tags and Unlink are then unused.
	Retag *Retag
}

// Retag is a social tag renamed or deleted in Social Planner: in each of
// Posts the contact has, the names of Old are replaced by New (none:
// removed). Old holds every name the tag may be listed under (its
// previous and its event's name), New its name in the current catalogue.
type Retag struct {
	Posts []string
	Old   []string
	New   string
}

// Diff is the contact tags to add to and remove from one contact.
type Diff = contacttags.Diff

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
	return PlanNamed(st, change, func(name string) string { return contacttags.ContactTag(prefix, name) }, written)
}

// PlanNamed is Plan with the contact tag of a social tag named by tag (a
// location's naming template) rather than by a prefix. tag's result is
// trimmed and lower-cased, as HighLevel stores contact tags. A change of
// naming takes effect on a contact's next change: its tags under the old
// names are removed and those under the new ones added.
//
// A contact tag the state records as removed by hand (State.Removed) is
// left off while the posts that gave it carry the same tags; the first
// change of one of them ends the record and the tag is added again.
func PlanNamed(st State, change PostChange, tag func(name string) string, written Diff) (State, Diff) {
	next := st.Clone()
	switch {
	case change.Retag != nil:
		change.Retag.apply(next.Posts)
	case !change.At.IsZero() && change.At.Before(st.PostAt[change.PostID]):
		// Stale: a later event of the post was handled first.
	case change.Unlink:
		delete(next.Posts, change.PostID)
		stamp(&next, change)
	default:
		next.Posts[change.PostID] = names(change.Tags)
		stamp(&next, change)
	}
	tagOf := func(n string) string { return contacttags.ContactTag("", tag(n)) }
	desired := map[string]bool{}
	for _, ns := range next.Posts {
		for _, n := range ns {
			if t := tagOf(n); t != "" {
				desired[t] = true
			}
		}
	}
	// A tag removed by hand stays off while the posts that gave it keep
	// their tags; once one changes, the record ends and the tag returns.
	for t, r := range next.Removed {
		if desired[t] && r.Holds(t, next.Posts, tagOf) {
			delete(desired, t)
			continue
		}
		delete(next.Removed, t)
	}
	if len(next.Removed) == 0 {
		next.Removed = nil
	}
	applied := contacttags.Set(st.Applied)
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
	next.Applied = contacttags.Sorted(desired)
	return next, Diff{Add: contacttags.Sorted(add), Remove: contacttags.Sorted(remove)}
}

// stamp records in st the occurredAt of change, which was applied to it.
func stamp(st *State, change PostChange) {
	if change.At.IsZero() {
		return
	}
	if st.PostAt == nil {
		st.PostAt = map[string]time.Time{}
	}
	st.PostAt[change.PostID] = change.At
}

// names returns the trimmed, non-empty, distinct tag names, sorted.
func names(in []string) []string {
	s := map[string]bool{}
	for _, n := range in {
		if n = strings.TrimSpace(n); n != "" {
			s[n] = true
		}
	}
	return contacttags.Sorted(s)
}

// apply renames or removes the tag in the posts of posts it concerns.
func (r *Retag) apply(posts map[string][]string) {
	for _, p := range r.Posts {
		ns, ok := posts[p]
		if !ok {
			continue
		}
		kept := slices.DeleteFunc(slices.Clone(ns), func(n string) bool { return n != r.New && slices.Contains(r.Old, n) })
		if len(kept) == len(ns) {
			continue
		}
		if r.New != "" {
			kept = append(kept, r.New)
		}
		posts[p] = names(kept)
	}
}
