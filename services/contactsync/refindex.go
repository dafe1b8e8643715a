package contactsync

import (
	"context"
	"slices"

	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
)

// The reverse index of socialsync_contact_refs: the cache is keyed by a
// keyed hash of each reference, which cannot be turned back into the
// contact; "<loc>.contact.<contactId>" lists the keys whose answer is
// that contact, so that a contact HighLevel deleted has its cached
// references erased (Eraser.forgetRefs). The key has three tokens, the
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
func RefPatterns(loc string) []string { return []string{topology.ContactRefsPattern(loc)} }

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
