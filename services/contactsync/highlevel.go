package contactsync

import (
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

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// HighLevel's contact webhooks (ContactTagUpdate, ContactDelete), as the
// gateway stored them (HighLevelContactChanged on
// socialsync.trigger.hlcontact.<loc>), keep socialsync's view of each
// contact current.

// echoSlack is how long before a delivery's timestamp a write of
// socialsync's may have been recorded and still not be reflected in it:
// HighLevel's clock and socialsync's differ, and HighLevel reports the
// tags it held when it sent. A delivery without a timestamp is ordered by
// when the gateway received it, which may be as late as HighLevel's last
// retry: it gets the whole window.
const echoSlack = 2 * time.Minute

// reasonDeleted is the reason of the ContactTagsChanged of a contact
// HighLevel deleted.
const reasonDeleted = "contact deleted in HighLevel"

// edgeHighLevel adapts handleHighLevel to the bus.
func (h *handler) edgeHighLevel(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.HighLevelContactChanged
	loc, err := bus.Decode(msg, &ev)
	if err != nil {
		return err
	}
	return h.handleHighLevel(ctx, loc, &ev)
}

// handleHighLevel applies one HighLevel contact webhook.
func (h *handler) handleHighLevel(ctx context.Context, loc string, ev *socialsyncv1.HighLevelContactChanged) error {
	contact := ev.GetContactId()
	if !validKeyPart(contact) {
		return bus.Permanent(fmt.Errorf("highlevel contact change of %s: invalid contact_id %.64q", loc, contact))
	}
	unlock, err := h.locks.Lock(ctx, []string{relations.ContactKey(loc, contact)})
	if err != nil {
		return err
	}
	defer unlock()
	switch ev.GetChange() {
	case socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS:
		return h.highLevelTags(ctx, loc, ev)
	case socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_DELETED:
		return h.contactDeleted(ctx, loc, ev)
	}
	return bus.Permanent(fmt.Errorf("highlevel contact change of %s: unknown change %v", loc, ev.GetChange()))
}

// highLevelTags records what a ContactTagUpdate says of a contact
// socialsync tags: HighLevel's tags (ContactState.HighLevel), and each tag
// socialsync applied that HighLevel no longer holds and socialsync's own
// writes do not explain (intents.explains) is a tag removed by hand. Under
// the location's "respect" policy (reconcile.policy, the default) it is
// recorded as such (ContactState.RemovedByHand, by "webhook"): it leaves
// Applied, later events for the same posts leave it off until the posts'
// tags change, and a ContactTagsChanged tells the automation worker. Under
// "repair" it stays applied, and the next reconciliation adds it again. A
// tag recorded as removed by hand that HighLevel shows again is applied
// again. A contact socialsync never tagged gets no state; an older
// delivery than the one recorded changes nothing.
func (h *handler) highLevelTags(ctx context.Context, loc string, ev *socialsyncv1.HighLevelContactChanged) error {
	id := ev.GetContactId()
	at, slack := ev.GetSentAt().AsTime(), echoSlack
	if ev.GetSentAt() == nil {
		at, slack = ev.GetReceivedAt().AsTime(), topology.HighLevelWebhookWindow
	}
	tags := make([]string, 0, len(ev.GetTags()))
	for _, t := range ev.GetTags() {
		// HighLevel stores contact tags trimmed and lower-cased.
		tags = append(tags, strings.ToLower(strings.TrimSpace(t)))
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	policy, err := h.reconcilePolicy(ctx, loc)
	if err != nil {
		return err
	}
	naming, err := h.naming(ctx, loc)
	if err != nil {
		return err
	}
	tagOf := func(n string) string { return contacttags.ContactTag("", naming(n)) }
	log := bus.LoggerFrom(ctx)
	for range maxRounds {
		st, rev, err := h.store.contact(ctx, loc, id)
		if err != nil || rev == 0 {
			return err
		}
		if st.HighLevel != nil && st.HighLevel.At.After(at) {
			log.Debug("older highlevel contact update ignored", "contact", id)
			return nil
		}
		own, _, err := h.store.intentsOf(ctx, loc, id)
		if err != nil {
			return err
		}
		next := st.Clone()
		next.HighLevel = &relations.HighLevelTags{Tags: tags, At: at, WebhookID: ev.GetWebhookId()}
		var byHand, recorded, back []string
		for _, t := range st.Applied {
			if slices.Contains(tags, t) || own.explains(t, at, slack, st.HighLevel) {
				continue
			}
			byHand = append(byHand, t)
			if policy == settings.PolicyRespect {
				next = next.RemovedByHand(t, tagOf, at, "webhook")
				recorded = append(recorded, t)
			}
		}
		for _, t := range slices.Sorted(maps.Keys(next.Removed)) {
			if slices.Contains(tags, t) {
				// Put back by hand: socialsync applies it again.
				delete(next.Removed, t)
				next.Applied = append(next.Applied, t)
				back = append(back, t)
			}
		}
		if len(next.Removed) == 0 {
			next.Removed = nil
		}
		slices.Sort(next.Applied)
		next.Applied = slices.Compact(next.Applied)
		var conflict bool
		if len(recorded) == 0 && len(back) == 0 {
			_, err = h.store.save(ctx, relations.ContactKey(loc, id), next, rev)
			conflict = errors.Is(err, errConflict)
		} else {
			// The contact's tags changed as socialsync counts them: the
			// automation worker hears of it as of any other change.
			ref := postRef{id: "hlwebhook-" + webhookRef(ev.GetWebhookId()), at: at, reason: "changed by hand in HighLevel"}
			c := &contact{id: id, state: st, rev: rev, next: next, diff: contacttags.Diff{Add: back, Remove: recorded}}
			conflict, err = h.commit(ctx, loc, ref, c)
		}
		if conflict {
			continue
		}
		if err != nil {
			return err
		}
		for _, t := range byHand {
			log.Info("contact tag removed by hand in HighLevel", "contact", id, "tag", t, "policy", policy)
		}
		return nil
	}
	return fmt.Errorf("highlevel tags of contact %s of %s: its state kept changing during %d attempts", id, loc, maxRounds)
}

// webhookRef shortens a webhook id to what an event id may hold: its hex
// SHA-256, first 16 bytes.
func webhookRef(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// contactDeleted forgets a contact HighLevel deleted: it leaves the
// contact lists of its posts, its state, removal and intent records are
// deleted, its cached references erased, and a ContactTagsChanged
// removing every tag socialsync applied tells the automation worker to
// take it out of its segments. Done again, it finds nothing and
// publishes the same event id.
func (h *handler) contactDeleted(ctx context.Context, loc string, ev *socialsyncv1.HighLevelContactChanged) error {
	contact := ev.GetContactId()
	key := relations.ContactKey(loc, contact)
	st, rev, err := h.store.contact(ctx, loc, contact)
	if err != nil {
		return err
	}
	for _, post := range slices.Sorted(maps.Keys(st.Posts)) {
		if err := h.unlinkContact(ctx, loc, post, contact); err != nil {
			return err
		}
	}
	if err := h.forgetContactRefs(ctx, loc, contact); err != nil {
		return err
	}
	for _, k := range []string{relations.RemovalsKey(loc, contact), relations.IntentKey(loc, contact)} {
		if err := h.forget(ctx, k); err != nil {
			return err
		}
	}
	if rev != 0 {
		if err := h.store.remove(ctx, key, rev); err != nil {
			// Changed meanwhile (a post event for the deleted contact):
			// the redelivery deletes it again.
			return fmt.Errorf("state of deleted contact %s of %s: %w", contact, loc, err)
		}
	}
	subject, err := topology.ContactEvents.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	sum := sha256.Sum256([]byte(ev.GetWebhookId()))
	id := "contacttags:" + loc + ":" + contact + ":deleted:" + hex.EncodeToString(sum[:8]) + ":" + strconv.FormatUint(rev, 10)
	if rev == 0 {
		// Already forgotten (a redelivery, or a contact socialsync never
		// tagged): its segments were told then, or it was in none.
		id = "contacttags:" + loc + ":" + contact + ":deleted:" + hex.EncodeToString(sum[:8])
	}
	out := &socialsyncv1.ContactTagsChanged{LocationId: loc, ContactId: contact, Removed: st.Applied, Reason: reasonDeleted,
		Timestamp: timestamppb.New(h.w.now())}
	if _, err := h.w.deps.Publisher.Publish(ctx, subject, out, bus.WithMsgID(id)); err != nil {
		return err
	}
	bus.LoggerFrom(ctx).Info("contact deleted in HighLevel forgotten", "contact", contact, "posts", len(st.Posts))
	return nil
}

// unlinkContact takes contact out of the contact list of post.
func (h *handler) unlinkContact(ctx context.Context, loc, post, contact string) error {
	key := relations.PostContactsKey(loc, post)
	for range maxRounds {
		var pc relations.PostContacts
		rev, err := h.store.load(ctx, key, &pc)
		if err != nil || rev == 0 || !slices.Contains(pc.ContactIDs, contact) {
			return err
		}
		pc.ContactIDs = slices.DeleteFunc(pc.ContactIDs, func(c string) bool { return c == contact })
		if len(pc.ContactIDs) == 0 {
			err = h.store.remove(ctx, key, rev)
		} else {
			_, err = h.store.save(ctx, key, pc, rev)
		}
		if !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("contacts of post %s of %s: kept changing during %d attempts", post, loc, maxRounds)
}

// forget deletes key, whatever its revision.
func (h *handler) forget(ctx context.Context, key string) error {
	for range maxRounds {
		var v any
		rev, err := h.store.load(ctx, key, &v)
		if err != nil || rev == 0 {
			return err
		}
		if err := h.store.remove(ctx, key, rev); !errors.Is(err, errConflict) {
			return err
		}
	}
	return fmt.Errorf("delete %s: kept changing during %d attempts", key, maxRounds)
}
