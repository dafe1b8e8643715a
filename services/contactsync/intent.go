package contactsync

import (
	"context"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// intentTTL is how long an intent entry is kept: longer than HighLevel
// may take to deliver the webhook a write causes (it retries a delivery
// answered 429 for about 70 minutes).
const intentTTL = 3 * time.Hour

// intents is a contact's intent record, "intent.<loc>.<contactId>" in the
// relations bucket: the contact tag writes contactsync made or was about
// to make for it lately, each recorded before it is sent to HighLevel.
// HighLevel's ContactTagUpdate webhook reports every change of a
// contact's tags, socialsync's own included, and may arrive before the
// state recording the write is stored (or instead of it, when the process
// dies in between): the intent record is what tells such an echo from a
// hand edit (highlevel.go). Entries older than intentTTL are dropped when
// the next one is recorded.
type intents struct {
	Writes []intentWrite `json:"writes"`
}

// intentWrite is one write to a contact's tags: its tags added and
// removed, and when it was recorded (just before it was sent).
type intentWrite struct {
	Add    []string  `json:"add,omitempty"`
	Remove []string  `json:"remove,omitempty"`
	At     time.Time `json:"at"`
}

// recordIntent records that d is about to be written to the contact.
func (s *store) recordIntent(ctx context.Context, loc, contact string, d tagging.Diff, now time.Time) error {
	_, err := revision.UpdateValues(ctx, s.relations, relations.IntentKey(loc, contact), func(r *intents, _ bool) error {
		r.Writes = slices.DeleteFunc(r.Writes, func(w intentWrite) bool { return now.Sub(w.At) > intentTTL })
		r.Writes = append(r.Writes, intentWrite{Add: d.Add, Remove: d.Remove, At: now})
		return nil
	})
	return err
}

// intentsOf returns the contact's intent record.
func (s *store) intentsOf(ctx context.Context, loc, contact string) (intents, uint64, error) {
	var r intents
	rev, err := s.load(ctx, relations.IntentKey(loc, contact), &r)
	return r, rev, err
}

// explains reports whether socialsync's own writes explain that a
// delivery reporting the contact's tags at time at lacks tag: the latest
// write touching the tag removed it (socialsync's removal, stored or not
// yet), or added it no earlier than slack before at while HighLevel has
// not confirmed the add since (seen, HighLevel's tags as the last
// delivery reported them): the delivery may then report HighLevel's tags
// from before the add. Once a delivery has shown the tag after the add,
// a later one without it is a removal by someone else.
func (r intents) explains(tag string, at time.Time, slack time.Duration, seen *relations.HighLevelTags) bool {
	var last *intentWrite
	for i := range r.Writes {
		w := &r.Writes[i]
		if (slices.Contains(w.Add, tag) || slices.Contains(w.Remove, tag)) && (last == nil || !w.At.Before(last.At)) {
			last = w
		}
	}
	switch {
	case last == nil:
		return false
	case slices.Contains(last.Remove, tag):
		return true
	case seen != nil && slices.Contains(seen.Tags, tag) && seen.At.After(last.At.Add(-slack)):
		return false
	}
	return last.At.After(at.Add(-slack))
}

// added returns, as a Diff of adds, the tags whose latest write in r
// added them: socialsync may have put them on the contact without
// storing it (a crash between the write and the state).
func (r intents) added() tagging.Diff {
	last := map[string]bool{}
	for _, w := range r.Writes {
		for _, t := range w.Remove {
			last[t] = false
		}
		for _, t := range w.Add {
			last[t] = true
		}
	}
	var d tagging.Diff
	for t, add := range last {
		if add {
			d.Add = append(d.Add, t)
		}
	}
	slices.Sort(d.Add)
	return d
}
