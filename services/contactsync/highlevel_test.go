package contactsync_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// relayWebhooks points the simulator's app webhooks at a relay that
// stores each ContactTagUpdate and ContactDelete as the gateway does (a
// HighLevelContactChanged, its webhookId as message id): the gateway's
// signature and replay checks are its own tests'.
func relayWebhooks(t *testing.T, env *fleettest.Env) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d struct {
			Type, LocationID, ID, WebhookID, Timestamp string
			Tags                                       []string
		}
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ev := &socialsyncv1.HighLevelContactChanged{LocationId: d.LocationID, ContactId: d.ID, Tags: d.Tags, WebhookId: d.WebhookID,
			ReceivedAt: timestamppb.Now()}
		switch d.Type {
		case "ContactTagUpdate":
			ev.Change = socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS
		case "ContactDelete":
			ev.Change = socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_DELETED
		}
		if at, err := time.Parse(time.RFC3339Nano, d.Timestamp); err == nil {
			ev.SentAt = timestamppb.New(at)
		}
		subject, err := topology.HighLevelContactTriggers.Subject(d.LocationID)
		if err == nil {
			_, err = env.Deps.Publisher.Publish(r.Context(), subject, ev, bus.WithMsgID("highlevel:"+d.WebhookID))
		}
		if err != nil {
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"webhookUrl": srv.URL}, nil)
}

// contactState reads a contact's state; false when it has none.
func contactState(t *testing.T, env *fleettest.Env, loc, contact string) (relations.ContactState, bool) {
	t.Helper()
	var st relations.ContactState
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), relations.ContactKey(loc, contact))
	if err != nil {
		return st, false
	}
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	return st, true
}

// byHand changes a contact's tags as a person would in HighLevel: through
// its API, with the location's token.
func byHand(t *testing.T, env *fleettest.Env, method, contact string, tags ...string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"tags": tags})
	req, err := http.NewRequest(method, env.SimURL+"/contacts/"+contact+"/tags", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.Locations[0].Token)
	req.Header.Set("Version", "2021-07-28")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s tags of %s: %d", method, contact, resp.StatusCode)
	}
}

func liveContacts(l ghlsim.LocationView) []string {
	var out []string
	for _, c := range l.Contacts {
		if !c.Deleted {
			out = append(out, c.ID)
		}
	}
	return out
}

// HighLevel's ContactTagUpdate keeps the contact's state current: its
// tags as HighLevel holds them, and a social tag removed by hand recorded
// as such until it comes back; socialsync's own writes are not hand edits.
func TestHighLevelTagUpdates(t *testing.T) {
	env := fleettest.Start(t, "demo")
	relayWebhooks(t, env)
	startWorker(t, env)
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	primeCatalogue(t, env, loc, l.SocialTags)
	contact := liveContacts(l)[0]
	post := createPost(t, env, loc, tags...)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, TagIds: ids(tags...), ContactIds: []string{contact}})
	a, b := social(tags[0]), social(tags[1])
	waitTags(t, env, loc, []string{contact}, []string{a, b}, nil)

	// The echo of socialsync's own adds: HighLevel's tags, no hand edit.
	fleettest.Eventually(t, 20*time.Second, "HighLevel's tags in the contact's state", func() bool {
		st, _ := contactState(t, env, loc, contact)
		return st.HighLevel != nil && slices.Contains(st.HighLevel.Tags, a) && slices.Contains(st.HighLevel.Tags, b)
	})
	if st, _ := contactState(t, env, loc, contact); len(st.Removed) != 0 {
		t.Errorf("socialsync's own adds recorded as hand edits: %v", st.Removed)
	}

	// A hand removal is recorded, under the default "respect" policy: the
	// tag leaves socialsync's applied tags.
	byHand(t, env, http.MethodDelete, contact, a)
	fleettest.Eventually(t, 20*time.Second, "the hand removal recorded", func() bool {
		st, _ := contactState(t, env, loc, contact)
		r, removed := st.Removed[a]
		return removed && r.By == "webhook"
	})
	st, _ := contactState(t, env, loc, contact)
	if _, removed := st.Removed[b]; removed || slices.Contains(st.Applied, a) || !slices.Contains(st.Applied, b) || slices.Contains(st.HighLevel.Tags, a) {
		t.Errorf("after a hand removal: %+v", st)
	}

	// Added back by hand: no longer removed, applied again.
	byHand(t, env, http.MethodPost, contact, a)
	fleettest.Eventually(t, 20*time.Second, "the re-added tag no longer removed", func() bool {
		st, _ := contactState(t, env, loc, contact)
		return len(st.Removed) == 0 && slices.Contains(st.HighLevel.Tags, a) && slices.Contains(st.Applied, a)
	})

	// A delivery older than the last one taken (HighLevel's retry of an
	// earlier change) changes nothing.
	before, _ := contactState(t, env, loc, contact)
	subject, err := topology.HighLevelContactTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.HighLevelContactChanged{LocationId: loc, ContactId: contact,
		Change: socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS, Tags: []string{}, WebhookId: "old",
		SentAt: timestamppb.New(before.HighLevel.At.Add(-time.Hour)), ReceivedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "the old delivery handled", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableHighLevelContacts).AckFloor.Stream >= ack.Sequence
	})
	if after, _ := contactState(t, env, loc, contact); !after.Equal(before) {
		t.Errorf("an older delivery changed the state:\n%+v\n%+v", before, after)
	}
}

// socialsync's own removal is never read as a hand edit, even when
// HighLevel's webhook for it is handled before the state recording the
// removal is stored (it is matched against the intent record written
// before the call).
func TestHighLevelEchoBeforeCommit(t *testing.T) {
	env := fleettest.Start(t, "demo")
	relayWebhooks(t, env)
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 1)
	primeCatalogue(t, env, loc, l.SocialTags)
	contact := liveContacts(l)[1]
	a := social(tags[0])
	var armed, echoFirst atomic.Bool
	startHookedWorker(t, env, func(w *contactsync.Worker) {
		contactsync.FailBeforeCommit(w, func(c string) error {
			if !armed.Load() || c != contact {
				return nil
			}
			// HighLevel holds the removal; the state is not stored until
			// contactsync has handled HighLevel's webhook for it.
			st, _ := contactState(t, env, loc, contact)
			if st.HighLevel == nil || slices.Contains(st.HighLevel.Tags, a) {
				return errors.New("test: the state is stored after HighLevel's webhook")
			}
			echoFirst.Store(slices.Contains(st.Applied, a))
			return nil
		})
	})
	post := createPost(t, env, loc, tags...)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, TagIds: ids(tags...), ContactIds: []string{contact}})
	waitTags(t, env, loc, []string{contact}, []string{a}, nil)
	fleettest.Eventually(t, 20*time.Second, "the echo of the add handled", func() bool {
		st, _ := contactState(t, env, loc, contact)
		return st.HighLevel != nil && slices.Contains(st.HighLevel.Tags, a)
	})

	// The post loses its tag: socialsync removes it from the contact.
	armed.Store(true)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, TagIds: []string{}, ContactIds: []string{contact}})
	fleettest.Eventually(t, 30*time.Second, "the removal stored", func() bool {
		st, _ := contactState(t, env, loc, contact)
		return !slices.Contains(st.Applied, a)
	})
	if !echoFirst.Load() {
		t.Fatal("the webhook was not handled before the state was stored: the test proves nothing")
	}
	if st, _ := contactState(t, env, loc, contact); len(st.Removed) != 0 {
		t.Errorf("socialsync's own removal recorded as a hand edit: %v", st.Removed)
	}
}

// A contact deleted in HighLevel leaves socialsync: its state, its
// place in its posts' contacts and its cached references go, and a
// ContactTagsChanged removing its tags takes it out of its segments.
func TestHighLevelContactDelete(t *testing.T) {
	env := fleettest.Start(t, "demo")
	relayWebhooks(t, env)
	startWorker(t, env)
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 1)
	primeCatalogue(t, env, loc, l.SocialTags)
	_, contacts := refLocation(t, env, loc)
	var target ghlsim.ContactView
	for _, c := range contacts {
		if c.Email != "" && slices.Contains(liveContacts(l), c.ID) {
			target = c
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no live contact with an email in the demo location")
	}
	post := createPost(t, env, loc, tags...)
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: post, TagIds: ids(tags...),
		Contacts: []*socialsyncv1.ContactRef{email(target.Email), email("not an email")}})
	waitHandled(t, env, seq)
	// The bad reference is a dead letter, which keeps the whole event:
	// the deleted contact's email with it.
	dlqFilter := bus.DeadLetterFilter("", loc)
	if len(bustest.DeadLetters(t, env.JS, dlqFilter)) != 1 {
		t.Fatalf("dead letters: %+v", bustest.DeadLetters(t, env.JS, dlqFilter))
	}
	a := social(tags[0])
	waitTags(t, env, loc, []string{target.ID}, []string{a}, nil)
	if len(refKeys(t, env, loc)) == 0 || len(bucketKeys(t, env, loc+".contact."+target.ID)) != 1 {
		t.Fatalf("no cached reference, or no index of it: %v", bucketKeys(t, env, loc+".>"))
	}

	env.Admin(t, "DELETE", "/_sandbox/locations/"+loc+"/contacts/"+target.ID, nil, nil)
	// The eraser deletes the contact's state first and its other records
	// after: wait for all of them.
	fleettest.Eventually(t, 20*time.Second, "the deleted contact forgotten", func() bool {
		_, ok := contactState(t, env, loc, target.ID)
		return !ok && len(bucketKeys(t, env, loc+".>")) == 0 && len(bustest.DeadLetters(t, env.JS, dlqFilter)) == 0 &&
			!hasKey(t, env, topology.BucketRelations, relations.IntentKey(loc, target.ID))
	})
	if keys := bucketKeys(t, env, loc+".>"); len(keys) != 0 {
		t.Errorf("cached references or their index left: %v", keys)
	}
	if dls := bustest.DeadLetters(t, env.JS, dlqFilter); len(dls) != 0 {
		t.Errorf("dead letters carrying the deleted contact's email left: %+v", dls)
	}
	// Not even the delete markers of its records name it.
	for _, bucket := range []string{topology.BucketRelations, topology.BucketContactRefs} {
		info, err := env.JS.Stream(context.Background(), "KV_"+bucket)
		if err != nil {
			t.Fatal(err)
		}
		si, err := info.Info(context.Background(), jetstream.WithSubjectFilter("$KV."+bucket+".>"))
		if err != nil {
			t.Fatal(err)
		}
		for subject := range si.State.Subjects {
			if strings.HasSuffix(subject, "."+target.ID) {
				t.Errorf("%s still holds %s", bucket, subject)
			}
		}
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(context.Background(), relations.PostContactsKey(loc, postKey(t, post))); err == nil && bytes.Contains(e.Value(), []byte(target.ID)) {
		t.Errorf("the post still lists the deleted contact: %s", e.Value())
	}
	var gone *socialsyncv1.ContactTagsChanged
	fleettest.Eventually(t, 10*time.Second, "the deletion's ContactTagsChanged", func() bool {
		for _, ev := range contactEvents(t, env, loc) {
			if ev.GetContactId() == target.ID && ev.GetReason() == "contact deleted in HighLevel" {
				gone = ev
			}
		}
		return gone != nil
	})
	if !slices.Contains(gone.GetRemoved(), a) {
		t.Errorf("deletion event: %v", gone)
	}
}

// hasKey reports whether bucket holds key.
func hasKey(t *testing.T, env *fleettest.Env, bucket, key string) bool {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	_, err = kv.Get(context.Background(), key)
	return err == nil
}
