package contactsync

import (
	"context"
	"slices"

	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// removals is a contact's removal record, "removals.<loc>.<contactId>" in
// the relations bucket: the contact tags HighLevel confirmed removed for
// a change planned from the contact's state at revision Rev. It is
// written right after the removal succeeds and checked right before one
// is sent: should the state fail to be stored after HighLevel was
// written (a crash, a NATS outage), the redelivered event plans the same
// removal from the same state, finds it recorded and does not send it
// again. A removal would otherwise undo a tag someone re-added meanwhile.
// Once the state is stored at a new revision the record no longer
// applies and is deleted.
type removals struct {
	Rev  uint64   `json:"rev"`
	Tags []string `json:"tags"`
}

// removed returns the contact tags recorded as removed for the change
// planned from the contact's state at revision rev.
func (s *store) removed(ctx context.Context, loc, contact string, rev uint64) ([]string, error) {
	var r removals
	if _, err := s.load(ctx, relations.RemovalsKey(loc, contact), &r); err != nil {
		return nil, err
	}
	if r.Rev != rev {
		return nil, nil
	}
	return r.Tags, nil
}

// recordRemoved records tags as removed for the change planned from the
// contact's state at revision rev, and returns the record's revision.
func (s *store) recordRemoved(ctx context.Context, loc, contact string, rev uint64, tags []string) (uint64, error) {
	return revision.UpdateValues(ctx, s.relations, relations.RemovalsKey(loc, contact), func(r *removals, _ bool) error {
		if r.Rev != rev {
			*r = removals{Rev: rev}
		}
		for _, t := range tags {
			if !slices.Contains(r.Tags, t) {
				r.Tags = append(r.Tags, t)
			}
		}
		slices.Sort(r.Tags)
		return nil
	})
}

// forgetRemoved deletes the contact's removal record if it is still at
// revision rev: the state it was about is stored. A failure leaves a
// record for a state revision that will not come back, which is harmless.
func (s *store) forgetRemoved(ctx context.Context, loc, contact string, rev uint64) error {
	return s.remove(ctx, relations.RemovalsKey(loc, contact), rev)
}

// without returns the members of in that are not in drop.
func without(in, drop []string) []string {
	if len(drop) == 0 {
		return in
	}
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}
