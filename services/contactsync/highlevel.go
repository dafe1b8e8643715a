package contactsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

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

// contactDeleted forgets a contact HighLevel deleted, as
// `socialsync contacts forget` does (Eraser, forget.go).
func (h *handler) contactDeleted(ctx context.Context, loc string, ev *socialsyncv1.HighLevelContactChanged) error {
	got, err := h.eraser.Erase(ctx, loc, Who{Contact: ev.GetContactId()}, ev.GetWebhookId())
	if err != nil {
		return err
	}
	bus.LoggerFrom(ctx).Info("contact deleted in HighLevel forgotten", "contact", got.Contact, "posts", got.Posts,
		"records", got.Records, "references", got.References, "dead_letters", got.DeadLetters)
	return nil
}
