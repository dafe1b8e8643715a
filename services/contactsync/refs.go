package contactsync

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/settings"
)

// Contact references: a post event may name contacts by email, phone
// number or an id of the sending system (PostEvent.contacts). Each is
// turned into a HighLevel contact id before the event is planned:
//
//   - the answer cached in socialsync_contact_refs, under a keyed hash of
//     the reference (refKey), when there is one;
//   - else HighLevel's duplicate lookup (email, phone) or a contact search
//     on the custom field the mapping names (external id);
//   - else, where the mapping says contacts.createMissing, an upsert of
//     the email or phone, never with tags: tags are added afterwards, as
//     for any contact. Replicas agree on who creates through a "pending"
//     record created only if absent; the others wait (a deferral) for its
//     answer. HighLevel's search index lags its writes by seconds, so a
//     contact just created is not found by the lookup: the pending record
//     and the cached answer are what keep a second event from creating it
//     again (and upsert itself matches an existing email or phone).
//
// A reference none of this resolves fails alone, as an item dead letter
// ("contactref <index>"); an email or a phone number never reaches a key,
// a log line, a span or a dead letter's reason.

// Timing of the pending record.
const (
	// pendingStale is how old a pending record is when its replica is
	// taken for dead, and another may create the contact.
	pendingStale = 30 * time.Second
	// pendingRetry is how long an event waits for another replica's
	// pending creation.
	pendingRetry = time.Second
)

// refRecord is the cached answer for one reference: the contact's id,
// or, while a replica creates it, since when.
type refRecord struct {
	ContactID string    `json:"contactId,omitempty"`
	Pending   time.Time `json:"pending,omitzero"`
}

// refItem is the dead-letter item of the i-th contact reference.
func refItem(i int) string { return "contactref " + strconv.Itoa(i) }

// refKeys hashes references into keys of socialsync_contact_refs. The
// key is derived from the token key ring; each location's from it, so
// that one location's hashes say nothing of another's.
type refKeys struct{ secret []byte }

// newRefKeys derives the hashing key from secret (SOCIALSYNC_TOKEN_KEY).
func newRefKeys(secret string) refKeys {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("socialsync contact references v1"))
	return refKeys{secret: m.Sum(nil)}
}

// key returns the bucket key of a reference of loc: "<loc>.<hash>", the
// hash an HMAC-SHA256 of kind and value under loc's key, base64url.
func (k refKeys) key(loc string, r bus.ContactRef) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(loc))
	locKey := m.Sum(nil)
	m = hmac.New(sha256.New, locKey)
	m.Write([]byte(r.Kind + "\x00" + r.Value))
	return loc + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// resolved is a reference turned into a contact id, with where the
// answer is cached.
type resolved struct {
	item, contact, key string
	rev                uint64
}

// resolveRefs returns the contacts of the event's references, in their
// order; those it gave up on are in res as item dead letters. An error
// is the event's: a failed lookup to retry, or a deferral while another
// replica creates a contact.
func (h *handler) resolveRefs(ctx context.Context, res *Result, in delivery) ([]resolved, error) {
	refs := in.ev.GetContacts()
	if len(refs) == 0 {
		return nil, nil
	}
	loc, post := in.loc, in.ev.GetPostId()
	var out []resolved
	var todo []int
	checked := make([]bus.ContactRef, len(refs))
	for i, pb := range refs {
		r, err := bus.CheckContactRef("contacts["+strconv.Itoa(i)+"]", pb)
		switch {
		case err != nil:
			res.deadLetter(refItem(i), "post "+post+": "+err.Error())
		case r.Kind == bus.RefID:
			out = append(out, resolved{item: refItem(i), contact: r.Value})
		default:
			checked[i] = r
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	opts := h.contactOptions(ctx, loc)
	keys := make([]string, 0, len(todo))
	for _, i := range todo {
		keys = append(keys, h.refs.key(loc, checked[i]))
	}
	// Handlers of this replica resolve one reference one at a time; other
	// replicas are kept apart by the pending record.
	unlock, err := h.locks.Lock(ctx, keys)
	if err != nil {
		return nil, err
	}
	defer unlock()
	lookup := &refLookup{h: h, loc: loc, client: h.w.deps.Client(loc), opts: opts}
	for n, i := range todo {
		got, reason, err := lookup.resolve(ctx, checked[i], keys[n])
		if err != nil {
			return nil, fmt.Errorf("contact reference %d of post %s of %s: %w", i, post, loc, err)
		}
		if reason != "" {
			res.deadLetter(refItem(i), "post "+post+": "+refItem(i)+": "+reason)
			continue
		}
		got.item = refItem(i)
		out = append(out, got)
	}
	return out, nil
}

// contactOptions returns loc's contacts mapping; none when it has no
// mapping or one that cannot be read (logged).
func (h *handler) contactOptions(ctx context.Context, loc string) settings.ContactsMapping {
	m, ok, err := h.w.deps.Mappings.Mapping(ctx, loc)
	if err != nil {
		bus.LoggerFrom(ctx).Warn("mapping unreadable; contacts found by lookup only", "err", err)
		return settings.ContactsMapping{}
	}
	if !ok {
		return settings.ContactsMapping{}
	}
	return m.Contacts
}

// refLookup resolves the references of one event.
type refLookup struct {
	h      *handler
	loc    string
	client Client
	opts   settings.ContactsMapping
	// fieldID is the external id field's id, once read.
	fieldID string
}

// resolve returns the contact of r, cached under key; or a reason it
// cannot be found (no value in it); or an error for the event.
func (l *refLookup) resolve(ctx context.Context, r bus.ContactRef, key string) (resolved, string, error) {
	refs, now := l.h.w.deps.ContactRefs, l.h.w.now()
	var rec refRecord
	rev, err := refs.Load(ctx, key, &rec)
	if err != nil {
		return resolved{}, "", err
	}
	if rec.ContactID != "" {
		return resolved{contact: rec.ContactID, key: key, rev: rev}, "", nil
	}
	if rev != 0 && now.Sub(rec.Pending) < pendingStale {
		return resolved{}, "", bus.Defer(errors.New("another replica is creating the contact"), pendingRetry)
	}
	id, reason, err := l.find(ctx, r)
	if err != nil || reason != "" {
		return resolved{}, reason, err
	}
	if id != "" {
		// Cache the answer unless another replica did meanwhile.
		// Indexed first (refindex.go): an index naming a key that does
		// not hold the contact is harmless, an answer missing from it is
		// not erased with the contact.
		if err := l.h.indexRef(ctx, l.loc, id, key); err != nil {
			return resolved{}, "", err
		}
		rev, err := refs.Save(ctx, key, refRecord{ContactID: id}, rev)
		if err != nil && !errors.Is(err, errConflict) {
			return resolved{}, "", err
		}
		return resolved{contact: id, key: key, rev: rev}, "", nil
	}
	if !l.opts.CreateMissing || r.Kind == bus.RefExternalID {
		return resolved{}, "no contact of the location has this " + refNoun(r.Kind) + createHint(l.opts, r.Kind), nil
	}
	// Claim the creation: absent (or a stale claim) → pending.
	claim, err := refs.Save(ctx, key, refRecord{Pending: now}, rev)
	if errors.Is(err, errConflict) {
		return resolved{}, "", bus.Defer(errors.New("another replica is creating the contact"), pendingRetry)
	}
	if err != nil {
		return resolved{}, "", err
	}
	req := ghl.UpsertContactRequest{LocationID: l.loc, Source: "socialsync"}
	if r.Kind == bus.RefEmail {
		req.Email = r.Value
	} else {
		req.Phone = r.Value
	}
	up, err := l.client.UpsertContact(ctx, req)
	if err != nil || up.Contact.ID == "" {
		// Give the claim up, so that the retry (or another replica)
		// need not wait for it to go stale.
		if dErr := refs.Delete(ctx, key, claim); dErr != nil {
			bus.LoggerFrom(ctx).Debug("pending contact reference left", "err", dErr)
		}
		if err == nil {
			err = errors.New("HighLevel's upsert returned no contact id")
		}
		if permanent(err) {
			return resolved{}, "HighLevel refused to create the contact: " + err.Error(), nil
		}
		return resolved{}, "", err
	}
	if err := l.h.indexRef(ctx, l.loc, up.Contact.ID, key); err != nil {
		return resolved{}, "", err
	}
	rev, err = refs.Save(ctx, key, refRecord{ContactID: up.Contact.ID}, claim)
	if err != nil {
		return resolved{}, "", err
	}
	bus.LoggerFrom(ctx).Info("contact created for a reference", "contact", up.Contact.ID, "new", up.New)
	return resolved{contact: up.Contact.ID, key: key, rev: rev}, "", nil
}

// find asks HighLevel for the contact of r: its id, "" when none; or a
// reason it cannot be asked.
func (l *refLookup) find(ctx context.Context, r bus.ContactRef) (string, string, error) {
	switch r.Kind {
	case bus.RefEmail, bus.RefPhone:
		email, phone := "", ""
		if r.Kind == bus.RefEmail {
			email = r.Value
		} else {
			phone = r.Value
		}
		c, found, err := l.client.DuplicateContact(ctx, l.loc, email, phone)
		if err != nil {
			return refused(err)
		}
		if !found {
			return "", "", nil
		}
		return c.ID, "", nil
	}
	// An external id, in the custom field the mapping names.
	if l.opts.ExternalIDField == "" {
		return "", "the location's mapping names no contacts.externalIdField", nil
	}
	if l.fieldID == "" {
		defs, err := l.client.ContactCustomFields(ctx, l.loc)
		if err != nil {
			return refused(err)
		}
		for _, d := range defs {
			if d.FieldKey == l.opts.ExternalIDField || d.FieldKey == "contact."+l.opts.ExternalIDField {
				l.fieldID = d.ID
			}
		}
		if l.fieldID == "" {
			return "", fmt.Sprintf("contact custom field %q of contacts.externalIdField is not defined in the location", l.opts.ExternalIDField), nil
		}
	}
	found, err := l.client.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: l.loc, PageLimit: 2,
		Filters: []ghl.SearchFilter{ghl.ExternalIDFilter(l.fieldID, r.Value)}})
	if err != nil {
		return refused(err)
	}
	switch len(found.Contacts) {
	case 0:
		return "", "", nil
	case 1:
		return found.Contacts[0].ID, "", nil
	}
	return "", "more than one contact of the location holds this external id", nil
}

// refused turns a HighLevel error into a reason when it is permanent (the
// reference alone fails), else returns it to retry the event.
func refused(err error) (string, string, error) {
	if permanent(err) {
		return "", "HighLevel refused the lookup: " + err.Error(), nil
	}
	return "", "", err
}

func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

func refNoun(kind string) string {
	switch kind {
	case bus.RefEmail:
		return "email"
	case bus.RefPhone:
		return "phone number"
	}
	return "external id"
}

func createHint(opts settings.ContactsMapping, kind string) string {
	if kind == bus.RefExternalID || opts.CreateMissing {
		return ""
	}
	return " (contacts.createMissing is off)"
}

// forgetRefs drops the cached answers whose contact HighLevel refused (a
// contact deleted or merged since): the next event looks it up again.
func (h *handler) forgetRefs(ctx context.Context, refs []resolved, failed map[string]string) {
	for _, r := range refs {
		if _, bad := failed[r.contact]; bad && r.key != "" && r.rev != 0 {
			if err := h.w.deps.ContactRefs.Delete(ctx, r.key, r.rev); err != nil {
				bus.LoggerFrom(ctx).Debug("cached contact reference left", "err", err)
			}
		}
	}
}
