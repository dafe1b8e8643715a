package contactsync

import (
	"context"
	"errors"
	"slices"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations/revision"
)

// The reverse index of socialsync_contact_refs: the cache is keyed by a
// keyed hash of each reference, which cannot be turned back into the
// contact; "<loc>.contact.<contactId>" lists the keys whose answer is
// that contact, so that a contact HighLevel deleted has its cached
// references erased (forgetContactRefs). The key has three tokens, the
// cached answers two ("<loc>.<hash>"): they never meet. Answers cached
// before the index existed are not in it; they expire with the bucket's
// TTL.

// refIndex lists the cache keys of one contact's references.
type refIndex struct {
	Keys []string `json:"keys"`
}

func refIndexKey(loc, contact string) string { return loc + ".contact." + contact }

// RefPatterns are the patterns of every key loc has in
// socialsync_contact_refs (cached answers, the reverse index, pending
// creations): what removing the location deletes.
func RefPatterns(loc string) []string { return []string{loc + ".>"} }

// indexRef adds key to the index of contact.
func (h *handler) indexRef(ctx context.Context, loc, contact, key string) error {
	_, err := revision.UpdateValues(ctx, h.w.deps.ContactRefs, refIndexKey(loc, contact), func(r *refIndex, _ bool) error {
		if !slices.Contains(r.Keys, key) {
			r.Keys = append(r.Keys, key)
		}
		return nil
	})
	return err
}

// forgetContactRefs erases the cached answers naming contact, and its
// index: the next event naming one of its references looks it up again.
// An answer another replica changed meanwhile (to another contact) is
// left.
func (h *handler) forgetContactRefs(ctx context.Context, loc, contact string) error {
	refs := h.w.deps.ContactRefs
	var idx refIndex
	idxRev, err := refs.Load(ctx, refIndexKey(loc, contact), &idx)
	if err != nil || idxRev == 0 {
		return err
	}
	for _, key := range idx.Keys {
		var rec refRecord
		rev, err := refs.Load(ctx, key, &rec)
		if err != nil {
			return err
		}
		if rev == 0 || rec.ContactID != contact {
			continue
		}
		if err := refs.Delete(ctx, key, rev); err != nil && !errors.Is(err, errConflict) {
			return err
		}
	}
	if err := refs.Delete(ctx, refIndexKey(loc, contact), idxRev); err != nil && !errors.Is(err, errConflict) {
		return err
	}
	bus.LoggerFrom(ctx).Info("cached contact references erased", "contact", contact, "references", len(idx.Keys))
	return nil
}
