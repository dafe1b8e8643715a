package contactsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// maxUpdateRounds bounds the revision-checked rounds of update.
const maxUpdateRounds = 10

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

// removalsKey is the relations key of a contact's removal record.
func removalsKey(loc, contact string) string { return "removals." + loc + "." + contact }

// removed returns the contact tags recorded as removed for the change
// planned from the contact's state at revision rev.
func (s *store) removed(ctx context.Context, loc, contact string, rev uint64) ([]string, error) {
	var r removals
	if _, err := s.load(ctx, removalsKey(loc, contact), &r); err != nil {
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
	return update(ctx, s, removalsKey(loc, contact), func(r *removals, _ bool) error {
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
	return s.remove(ctx, removalsKey(loc, contact), rev)
}

// update applies fn to the JSON value of key in the relations bucket
// (the zero T and false when there is none) and stores the result with
// s.save under a revision check, reading and applying again when someone
// else changed key meanwhile. It returns the stored revision. fn's error
// stops it and is returned.
func update[T any](ctx context.Context, s *store, key string, fn func(*T, bool) error) (uint64, error) {
	for range maxUpdateRounds {
		var v T
		rev, err := loadJSON(ctx, s.relations, key, &v)
		if err != nil {
			return 0, err
		}
		if err := fn(&v, rev != 0); err != nil {
			return 0, err
		}
		stored, err := s.save(ctx, key, v, rev)
		if errors.Is(err, errConflict) {
			continue
		}
		return stored, err
	}
	return 0, fmt.Errorf("store %s: %w %d times", key, errConflict, maxUpdateRounds)
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
