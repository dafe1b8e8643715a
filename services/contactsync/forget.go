package contactsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Erasing a contact's personal data (docs/personal-data.md): what
// socialsync holds of one contact of a location is its state, the contact
// lists of its posts, its removal and intent records (socialsync_relations),
// the cached answers of its references and their index
// (socialsync_contact_refs), its segment memberships (the automation
// worker's, told by a ContactTagsChanged removing every tag), and the dead
// letters naming it or carrying one of its references (SOCIALSYNC_DLQ).
// HighLevel's ContactDelete erases it (highlevel.go); so does
// `socialsync contacts forget`. Each step deletes what is there and finds
// nothing the second time: an interrupted erasure is finished by running
// it again.

// Who names the contact to erase: its HighLevel id, or an email or phone
// number it was named by (the cached answer gives its id, when there is
// one). Dead letters carrying the email or phone number are erased even
// when no answer is cached.
type Who struct {
	Contact, Email, Phone string
}

// Erased counts what an erasure deleted; it names no email or phone.
type Erased struct {
	// Contact is the contact's id, when it was known or found.
	Contact string
	// Posts is how many posts' contact lists it left.
	Posts int
	// Records counts its state, removal and intent records.
	Records int
	// References counts the cached answers and their index.
	References int
	// DeadLetters counts the dead letters deleted.
	DeadLetters int
}

// DeadLetterStore lists and deletes dead letters (pkg/bus on
// SOCIALSYNC_DLQ).
type DeadLetterStore interface {
	List(ctx context.Context, filter string, after uint64, limit int) ([]bus.StoredDeadLetter, bool, error)
	Delete(ctx context.Context, seq uint64) error
}

// EraserDeps are what an Eraser uses.
type EraserDeps struct {
	// Relations is socialsync_relations, ContactRefs
	// socialsync_contact_refs.
	Relations, ContactRefs Relations
	// Publisher tells the automation worker (ContactTagsChanged).
	Publisher Publisher
	// DeadLetters: nil leaves the dead letters.
	DeadLetters DeadLetterStore
	// Purge removes every revision of a key of socialsync_relations or
	// socialsync_contact_refs (bucket), delete marker included
	// (bus.PurgeKey): the delete markers would name the contact.
	Purge func(ctx context.Context, bucket, key string) error
	// TokenKey is SOCIALSYNC_TOKEN_KEY, from which references are hashed.
	TokenKey string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Eraser erases contacts' data.
type Eraser struct {
	d     EraserDeps
	store *store
	keys  refKeys
}

// NewEraser returns an Eraser using d.
func NewEraser(d EraserDeps) (*Eraser, error) {
	if d.Relations == nil || d.ContactRefs == nil || d.Publisher == nil || d.Purge == nil {
		return nil, errors.New("contactsync: incomplete eraser dependencies")
	}
	if d.TokenKey == "" {
		return nil, errors.New("contactsync: SOCIALSYNC_TOKEN_KEY is required to find a contact's cached references")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Eraser{d: d, store: &store{relations: d.Relations}, keys: newRefKeys(d.TokenKey)}, nil
}

// deadLetterPage is how many dead letters are read at once.
const deadLetterPage = 200

// Erase erases who of loc. webhookID names the HighLevel delivery that
// asked (empty from the command line); it makes the ContactTagsChanged's
// event id.
func (e *Eraser) Erase(ctx context.Context, loc string, who Who, webhookID string) (Erased, error) {
	var out Erased
	var refs []bus.ContactRef
	for _, pb := range []*socialsyncv1.ContactRef{
		{Ref: &socialsyncv1.ContactRef_Email{Email: who.Email}}, {Ref: &socialsyncv1.ContactRef_Phone{Phone: who.Phone}},
	} {
		if pb.GetEmail() == "" && pb.GetPhone() == "" {
			continue
		}
		r, err := bus.CheckContactRef("reference", pb)
		if err != nil {
			return out, bus.Permanent(err)
		}
		refs = append(refs, r)
	}
	contact := who.Contact
	keys := map[string]bool{}
	for _, r := range refs {
		key := e.keys.key(loc, r)
		keys[key] = true
		var rec refRecord
		if _, err := e.d.ContactRefs.Load(ctx, key, &rec); err != nil {
			return out, err
		}
		if contact == "" {
			contact = rec.ContactID
		}
	}
	if contact != "" && !validKeyPart(contact) {
		return out, bus.Permanent(fmt.Errorf("erase a contact of %s: invalid contact id %.64q", loc, contact))
	}
	out.Contact = contact
	var idx refIndex
	idxRev := uint64(0)
	if contact != "" {
		var err error
		if idxRev, err = e.d.ContactRefs.Load(ctx, refIndexKey(loc, contact), &idx); err != nil {
			return out, err
		}
		for _, k := range idx.Keys {
			keys[k] = true
		}
	}
	// Dead letters first: matching them needs the index, erased next.
	n, err := e.eraseDeadLetters(ctx, loc, contact, refs, keys)
	out.DeadLetters = n
	if err != nil {
		return out, err
	}
	if out.References, err = e.forgetRefs(ctx, loc, contact, keys, idxRev); err != nil {
		return out, err
	}
	if contact == "" {
		return out, nil
	}
	if err := e.forgetContact(ctx, loc, contact, webhookID, &out); err != nil {
		return out, err
	}
	return out, e.purgeMarkers(ctx, loc, contact)
}

// purgeMarkers removes the delete markers of the keys naming contact.
func (e *Eraser) purgeMarkers(ctx context.Context, loc, contact string) error {
	for bucket, keys := range map[string][]string{
		topology.BucketRelations:   {relations.ContactKey(loc, contact), relations.RemovalsKey(loc, contact), relations.IntentKey(loc, contact)},
		topology.BucketContactRefs: {refIndexKey(loc, contact)},
	} {
		for _, k := range keys {
			if err := e.d.Purge(ctx, bucket, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// forgetContact takes contact out of its posts' contact lists, deletes
// its state, removal and intent records, and tells the automation worker
// that every tag it had is gone. Done again, it finds nothing and
// publishes the same event id.
func (e *Eraser) forgetContact(ctx context.Context, loc, contact, webhookID string, out *Erased) error {
	st, rev, err := e.store.contact(ctx, loc, contact)
	if err != nil {
		return err
	}
	for _, post := range slices.Sorted(maps.Keys(st.Posts)) {
		left, err := e.unlinkContact(ctx, loc, post, contact)
		if err != nil {
			return err
		}
		if left {
			out.Posts++
		}
	}
	for _, k := range []string{relations.RemovalsKey(loc, contact), relations.IntentKey(loc, contact)} {
		gone, err := e.forget(ctx, k)
		if err != nil {
			return err
		}
		if gone {
			out.Records++
		}
	}
	if rev != 0 {
		if err := e.store.remove(ctx, relations.ContactKey(loc, contact), rev); err != nil {
			// Changed meanwhile (a post event for the contact): the
			// redelivery, or the command run again, deletes it again.
			return fmt.Errorf("state of contact %s of %s: %w", contact, loc, err)
		}
		out.Records++
	}
	subject, err := topology.ContactEvents.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	sum := sha256.Sum256([]byte(webhookID))
	id := "contacttags:" + loc + ":" + contact + ":deleted:" + hex.EncodeToString(sum[:8]) + ":" + strconv.FormatUint(rev, 10)
	if rev == 0 {
		// Already forgotten (a redelivery, or a contact socialsync never
		// tagged): its segments were told then, or it was in none.
		id = "contacttags:" + loc + ":" + contact + ":deleted:" + hex.EncodeToString(sum[:8])
	}
	ev := &socialsyncv1.ContactTagsChanged{LocationId: loc, ContactId: contact, Removed: st.Applied, Reason: reasonDeleted,
		Timestamp: timestamppb.New(e.d.Now())}
	_, err = e.d.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id))
	return err
}

// forgetRefs erases the cached answers under keys that name contact (or
// any contact, for the keys of the references named in Who) and the
// contact's index. An answer another replica changed meanwhile (to
// another contact) is left.
func (e *Eraser) forgetRefs(ctx context.Context, loc, contact string, keys map[string]bool, idxRev uint64) (int, error) {
	refs, n := e.d.ContactRefs, 0
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		var rec refRecord
		rev, err := refs.Load(ctx, key, &rec)
		if err != nil {
			return n, err
		}
		if rev == 0 || contact != "" && rec.ContactID != "" && rec.ContactID != contact {
			continue
		}
		if err := refs.Delete(ctx, key, rev); err != nil && !errors.Is(err, errConflict) {
			return n, err
		}
		n++
	}
	if idxRev != 0 {
		if err := refs.Delete(ctx, refIndexKey(loc, contact), idxRev); err != nil && !errors.Is(err, errConflict) {
			return n, err
		}
		n++
	}
	return n, nil
}

// eraseDeadLetters deletes loc's dead letters that name contact (its id in
// the payload or the reason) or carry one of refs, or a reference whose
// cache key is in keys (a post event naming the contact by an email or
// phone it was found by).
func (e *Eraser) eraseDeadLetters(ctx context.Context, loc, contact string, refs []bus.ContactRef, keys map[string]bool) (int, error) {
	if e.d.DeadLetters == nil {
		return 0, nil
	}
	n := 0
	var after uint64
	for {
		page, more, err := e.d.DeadLetters.List(ctx, bus.DeadLetterFilter("", loc), after, deadLetterPage)
		if err != nil {
			return n, err
		}
		for _, dl := range page {
			after = dl.Seq
			if !e.names(loc, dl.DeadLetter, contact, refs, keys) {
				continue
			}
			if err := e.d.DeadLetters.Delete(ctx, dl.Seq); err != nil {
				return n, err
			}
			n++
		}
		if !more || len(page) == 0 {
			return n, nil
		}
	}
}

// names tells whether dl names the contact.
func (e *Eraser) names(loc string, dl bus.DeadLetter, contact string, refs []bus.ContactRef, keys map[string]bool) bool {
	if contact != "" && (bytes.Contains(dl.Data, []byte(contact)) || strings.Contains(dl.Reason, contact)) {
		return true
	}
	for _, r := range refs {
		// An email is compared in lower case; a phone number is also
		// looked for as the event may have written it (decoded below).
		if bytes.Contains(bytes.ToLower(dl.Data), []byte(r.Value)) {
			return true
		}
	}
	if len(keys) == 0 || !strings.HasPrefix(dl.OriginalSubject, string(topology.PostTriggers)+".") {
		return false
	}
	var ev socialsyncv1.PostEvent
	if err := bus.Unmarshal(dl.Header, dl.Data, &ev); err != nil {
		return false
	}
	for _, pb := range ev.GetContacts() {
		r, err := bus.CheckContactRef("contact", pb)
		if err != nil {
			continue
		}
		if r.Kind == bus.RefID && r.Value == contact || r.Kind != bus.RefID && keys[e.keys.key(loc, r)] {
			return true
		}
	}
	return false
}

// unlinkContact takes contact out of the contact list of post; true when
// it was in it.
func (e *Eraser) unlinkContact(ctx context.Context, loc, post, contact string) (bool, error) {
	key := relations.PostContactsKey(loc, post)
	for range maxRounds {
		var pc relations.PostContacts
		rev, err := e.store.load(ctx, key, &pc)
		if err != nil || rev == 0 || !slices.Contains(pc.ContactIDs, contact) {
			return false, err
		}
		pc.ContactIDs = slices.DeleteFunc(pc.ContactIDs, func(c string) bool { return c == contact })
		if len(pc.ContactIDs) == 0 {
			err = e.store.remove(ctx, key, rev)
		} else {
			_, err = e.store.save(ctx, key, pc, rev)
		}
		if !errors.Is(err, errConflict) {
			return err == nil, err
		}
	}
	return false, fmt.Errorf("contacts of post %s of %s: kept changing during %d attempts", post, loc, maxRounds)
}

// forget deletes key, whatever its revision; true when there was one.
func (e *Eraser) forget(ctx context.Context, key string) (bool, error) {
	for range maxRounds {
		var v any
		rev, err := e.store.load(ctx, key, &v)
		if err != nil || rev == 0 {
			return false, err
		}
		if err := e.store.remove(ctx, key, rev); !errors.Is(err, errConflict) {
			return err == nil, err
		}
	}
	return false, fmt.Errorf("delete %s: kept changing during %d attempts", key, maxRounds)
}
