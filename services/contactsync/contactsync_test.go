package contactsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	pkgids "github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/contactsync/tagging"
)

// A post's tags reach its contacts through the bulk endpoint; an update
// that drops a tag removes it except from a contact whose other post
// carries it; a deletion, which lists no contacts, reaches the contacts
// the post was linked to.
func TestPostLifecycle(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 3)
	launch, sale, other := tags[0], tags[1], tags[2]
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := env.LiveContacts(t, loc, 3)
	a, b, c := contacts[0], contacts[1], contacts[2]
	startWorker(t, env)

	// A post with two tags and three contacts: one bulk call.
	p1 := createPost(t, env, loc, launch, sale)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, Change: socialsyncv1.Change_CHANGE_CREATED,
		TagIds: ids(launch, sale), ContactIds: contacts, EventId: "e1"})
	waitTags(t, env, loc, contacts, []string{social(launch), social(sale)}, nil)
	if single, add, remove := tagWrites(t, env, loc); single != 0 || add != 1 || remove != 0 {
		t.Errorf("writes: %d single, %d bulk add, %d bulk remove; want one bulk add", single, add, remove)
	}
	fleettest.Eventually(t, 10*time.Second, "three events", func() bool { return len(contactEvents(t, env, loc)) == 3 })
	for _, ev := range contactEvents(t, env, loc) {
		want := []string{social(launch), social(sale)}
		slices.Sort(want)
		if diff := cmp.Diff(want, ev.GetAdded()); diff != "" || ev.GetReason() != "post "+p1 || len(ev.GetRemoved()) != 0 {
			t.Errorf("event for %s: added %v removed %v reason %q", ev.GetContactId(), ev.GetAdded(), ev.GetRemoved(), ev.GetReason())
		}
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), "contact."+loc+"."+a)
	if err != nil {
		t.Fatal(err)
	}
	var st tagging.State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Posts[postKey(t, p1)]) != 2 || len(st.Applied) != 2 {
		t.Errorf("stored state of %s: %+v", a, st)
	}

	// A second post carries "sale" for c only: a single call.
	p2 := createPost(t, env, loc, sale, other)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p2, TagIds: ids(sale, other), ContactIds: []string{c}, EventId: "e2"})
	waitTags(t, env, loc, []string{c}, []string{social(other)}, nil)
	if single, _, _ := tagWrites(t, env, loc); single != 1 {
		t.Errorf("%d single-contact writes, want 1 (only %q is new to c)", single, social(other))
	}

	// p1 drops "sale": a and b lose it, c keeps it for p2.
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, Change: socialsyncv1.Change_CHANGE_UPDATED,
		TagIds: ids(launch), ContactIds: contacts, EventId: "e3"})
	waitTags(t, env, loc, []string{a, b}, []string{social(launch)}, []string{social(sale)})
	if tags := contactTags(t, env, loc, c); !hasTag(tags, social(sale)) || !hasTag(tags, social(launch)) {
		t.Errorf("c's tags %v: want %q kept for the other post", tags, social(sale))
	}
	if _, _, remove := tagWrites(t, env, loc); remove != 1 {
		t.Errorf("%d bulk removes, want 1", remove)
	}

	// p1 is deleted; the event names no contacts.
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, Change: socialsyncv1.Change_CHANGE_DELETED, EventId: "e4"})
	waitTags(t, env, loc, contacts, nil, []string{social(launch)})
	waitHandled(t, env, seq)
	if tags := contactTags(t, env, loc, c); !hasTag(tags, social(sale)) || !hasTag(tags, social(other)) {
		t.Errorf("c's tags %v: want p2's tags kept", tags)
	}
	if _, err := kv.Get(context.Background(), "postcontacts."+loc+"."+postKey(t, p1)); err == nil {
		t.Error("the deleted post's contacts are still recorded")
	}
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
}

// A redelivered or duplicated event writes nothing: no contact tag call,
// and its ContactTagsChanged (published for every contact of a post event,
// so that the automation worker computes segments again even after a
// crash between the state and the event) change no tag. The copy arrives
// as protojson, as `nats pub` sends it.
func TestDuplicateWritesNothing(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[1].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tags := liveTags(t, l, 2)
	contacts := env.LiveContacts(t, loc, 3)
	startWorker(t, env)

	ev := &socialsyncv1.PostEvent{LocationId: loc, PostId: "65f151c99bc2bf3aaf970d72", TagIds: ids(tags...), ContactIds: contacts, EventId: "dup"}
	publish(t, env, ev)
	waitTags(t, env, loc, contacts, []string{social(tags[0]), social(tags[1])}, nil)
	fleettest.Eventually(t, 10*time.Second, "events", func() bool { return len(contactEvents(t, env, loc)) == 3 })
	single, add, remove := tagWrites(t, env, loc)

	// The stream drops a copy inside its duplicate window...
	subject, _ := topology.PostTriggers.Subject(loc)
	if ack, err := env.Deps.Publisher.Publish(context.Background(), subject, ev); err != nil || !ack.Duplicate {
		t.Fatalf("copy: %+v, %v; want a duplicate", ack, err)
	}
	// ...and the worker writes nothing for one that gets through.
	js, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	seq := publishRaw(t, env, subject, js, "Content-Type", "application/json", "Nats-Msg-Id", "another-id")
	waitHandled(t, env, seq)
	s2, a2, r2 := tagWrites(t, env, loc)
	if s2 != single || a2 != add || r2 != remove {
		t.Errorf("the duplicate wrote: %d single, %d bulk add, %d bulk remove calls", s2-single, a2-add, r2-remove)
	}
	evs := contactEvents(t, env, loc)
	if len(evs) != 6 {
		t.Errorf("%d ContactTagsChanged events, want 3 and one per contact for the copy", len(evs))
	}
	for _, e := range evs[min(3, len(evs)):] {
		if len(e.GetAdded())+len(e.GetRemoved()) != 0 || e.GetPostKey() == "" {
			t.Errorf("the copy's event for %s: added %v, removed %v, post %q; want no change, naming the post", e.GetContactId(), e.GetAdded(), e.GetRemoved(), e.GetPostKey())
		}
	}
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
}

// An event naming a tag the catalogue lacks waits for the fetcher, writing
// nothing meanwhile, and goes through once the catalogue has it.
func TestUnknownTagWaitsForCatalogue(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[2].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	var without []ghlsim.TagView
	for _, tg := range l.SocialTags {
		if tg.ID != tags[1].ID {
			without = append(without, tg)
		}
	}
	primeCatalogue(t, env, loc, without)
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)

	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "65fbdcfecc884f07e645ea8b", TagIds: ids(tags...), ContactIds: contacts})
	fleettest.Eventually(t, 15*time.Second, "a redelivery", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync).NumRedelivered > 0
	})
	if single, add, remove := tagWrites(t, env, loc); single+add+remove != 0 {
		t.Errorf("%d writes while a tag was unknown, want none", single+add+remove)
	}
	primeCatalogue(t, env, loc, l.SocialTags)
	waitTags(t, env, loc, contacts, []string{social(tags[0]), social(tags[1])}, nil)
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
}

// A location's first event usually arrives before its first catalogue:
// its handler watches for the catalogue it asked for (the fetcher takes
// milliseconds) rather than hand the message back, so the event is done
// on its first delivery, not at a redelivery that may come seconds late
// behind a paced location's backlog.
func TestFirstEventWaitsForItsCatalogue(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[2].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 1)
	contacts := env.LiveContacts(t, loc, 1)
	startWorker(t, env)

	// The catalogue is stored (the fetcher's turn) once the handler
	// watches for it: its watch is a consumer on the catalogues' stream.
	watchers := func() int { return tagsConsumers(t, env) }
	before := watchers()
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "65fbdcfecc884f07e645ea8c", TagIds: ids(tags...), ContactIds: contacts})
	bustest.WaitFor(t, 30*time.Second, "the handler to watch for the catalogue", func() bool { return watchers() > before })
	primeCatalogue(t, env, loc, l.SocialTags)
	waitTags(t, env, loc, contacts, []string{social(tags[0])}, nil)
	// The consumer's sequence counts deliveries, redeliveries included.
	if n := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync).Delivered.Consumer; n != 1 {
		t.Errorf("%d deliveries, want the event done on its first", n)
	}
}

// The catalogue watch sees a catalogue stored before it began (between
// the handler's read and its watch) as well as one stored while it waits,
// and not a stale one.
func TestAwaitCatalogue(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[2].ID
	l := env.Location(t, loc)
	stores, err := contactsync.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	arrived := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	await := func(limit time.Duration) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		return stores.Catalogues.AwaitCatalogue(ctx, loc, arrived)
	}
	storeCatalogue(t, env, loc, l.SocialTags, nil, arrived.Add(-time.Minute))
	if fresh, err := await(200 * time.Millisecond); fresh || err != nil {
		t.Errorf("a catalogue fetched before the event: fresh %v, %v; want not fresh", fresh, err)
	}
	// Stored while the watch waits.
	type result struct {
		fresh bool
		err   error
	}
	done := make(chan result, 1)
	before := tagsConsumers(t, env)
	go func() {
		fresh, err := await(30 * time.Second)
		done <- result{fresh, err}
	}()
	bustest.WaitFor(t, 30*time.Second, "the watch", func() bool { return tagsConsumers(t, env) > before })
	storeCatalogue(t, env, loc, l.SocialTags, nil, arrived.Add(time.Second))
	if r := <-done; !r.fresh || r.err != nil {
		t.Errorf("a catalogue stored during the watch: fresh %v, %v", r.fresh, r.err)
	}
	// Stored before the watch began: seen from the watch's first value,
	// not missed until the deadline.
	if fresh, err := await(30 * time.Second); !fresh || err != nil {
		t.Errorf("a fresh catalogue stored before the watch: fresh %v, %v", fresh, err)
	}
	// The watches leave no consumer behind.
	bustest.WaitFor(t, 30*time.Second, "the watches' consumers gone", func() bool { return tagsConsumers(t, env) == before })
}

// A tag the catalogue lacks because it was deleted (the enricher's details
// say so) is left out instead of waited for.
func TestDeletedTagIsLeftOut(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[2].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	live, deleted := tags[0], tags[1]
	var catalogue []ghlsim.TagView
	for _, tg := range l.SocialTags {
		if tg.ID != deleted.ID {
			catalogue = append(catalogue, tg)
		}
	}
	primeCatalogue(t, env, loc, catalogue)
	detail, err := protojson.Marshal(&socialsyncv1.TagDetail{TagId: deleted.ID, TagName: deleted.Tag, Deleted: true})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketTagDetails)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), loc+"."+deleted.ID, detail); err != nil {
		t.Fatal(err)
	}
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)

	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: ids(live, deleted), ContactIds: contacts})
	waitTags(t, env, loc, contacts, []string{social(live)}, []string{social(deleted)})
	waitHandled(t, env, seq)
	if info := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync); info.NumRedelivered != 0 {
		t.Errorf("%d redeliveries, want none", info.NumRedelivered)
	}
}

// A post carrying a tag deleted in Social Planner, which a catalogue
// fetched before the post arrived does not hold, waits for a refresh it
// asks the fetcher for, writing nothing meanwhile; once the refreshed
// catalogue marks the tag deleted, the post's other tags are applied and
// the deleted one is skipped, with its reason in ContactTagsChanged. No
// dead letter.
func TestDeletedTagSkippedAfterRefresh(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[2].ID
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	live, gone := tags[0], tags[1]
	var without []ghlsim.TagView
	for _, tg := range l.SocialTags {
		if tg.ID != gone.ID {
			without = append(without, tg)
		}
	}
	// The catalogue as the fetcher stored it before the tag's deletion
	// was recorded: the tag is simply missing.
	storeCatalogue(t, env, loc, without, nil, time.Now().Add(-time.Minute))
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)

	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: ids(live, gone), ContactIds: contacts})
	refreshSubject, err := topology.CatalogueRefreshes.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 15*time.Second, "a catalogue refresh request", func() bool {
		return len(bustest.Messages(t, env.JS, topology.StreamRefresh, refreshSubject)) > 0
	})
	if single, add, remove := tagWrites(t, env, loc); single+add+remove != 0 {
		t.Errorf("%d writes while the catalogue was older than the post, want none", single+add+remove)
	}
	// The fetcher's refresh: the tag is now a tombstone.
	storeCatalogue(t, env, loc, without, []ghlsim.TagView{gone}, time.Now())
	waitTags(t, env, loc, contacts, []string{social(live)}, []string{social(gone)})
	waitHandled(t, env, seq)
	evs := contactEvents(t, env, loc)
	if len(evs) != len(contacts) {
		t.Fatalf("%d ContactTagsChanged, want %d", len(evs), len(contacts))
	}
	for _, ev := range evs {
		want := []*socialsyncv1.SkippedTag{{TagId: gone.ID, TagName: gone.Tag, Reason: "deleted in Social Planner"}}
		if diff := cmp.Diff(want, ev.GetSkipped(), protocmp.Transform()); diff != "" {
			t.Errorf("skipped tags of %s (-want +got):\n%s", ev.GetContactId(), diff)
		}
	}
	if env.Deps.Telemetry == nil {
		t.Fatal("no telemetry in the test fleet")
	}
	rec := httptest.NewRecorder()
	env.Deps.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `socialsync_contactsync_tags_skipped_total{`; !strings.Contains(rec.Body.String(), want) ||
		!strings.Contains(rec.Body.String(), `reason="deleted in Social Planner"`) {
		t.Errorf("metrics lack %s with the reason", want)
	}
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
}

// A tag that a catalogue fetched after the post arrived never held is
// dead-lettered as an item of the post; the post's other tags are
// applied and the post is acked.
func TestNeverHeldTagIsDeadLetteredAlone(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	live := liveTags(t, l, 1)[0]
	contacts := env.LiveContacts(t, loc, 1)
	const ghost = "ffffffffffffffffffffffff"
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: []string{live.ID, ghost}, ContactIds: contacts})
	primeCatalogue(t, env, loc, l.SocialTags) // fetched after the post arrived
	startWorker(t, env)

	waitTags(t, env, loc, contacts, []string{social(live)}, nil)
	waitHandled(t, env, seq)
	dls := bustest.DeadLetters(t, env.JS, "")
	if len(dls) != 1 || dls[0].Item != "tag "+ghost || dls[0].Class != "permanent" || !strings.Contains(dls[0].Reason, "never held") {
		t.Errorf("dead letters %+v: want one item naming tag %s", dls, ghost)
	}
}

// Contacts HighLevel refuses (deleted, of another location) are
// dead-lettered one by one; the others are tagged and the event is acked.
func TestRefusedContactsAreDeadLetteredAlone(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tags := liveTags(t, l, 1)
	contacts := env.LiveContacts(t, loc, 3)
	gone := contacts[2]
	env.Admin(t, "DELETE", "/_sandbox/locations/"+loc+"/contacts/"+gone, nil, nil)
	foreign := env.LiveContacts(t, env.Locations[1].ID, 1)[0]
	startWorker(t, env)

	// Three contacts: a bulk call in which one fails.
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: ids(tags...), ContactIds: contacts})
	waitTags(t, env, loc, contacts[:2], []string{social(tags[0])}, nil)
	waitHandled(t, env, seq)
	// One contact alone, then one of another location: single calls (or
	// one bulk call, when their writes are merged).
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p2", TagIds: ids(tags...), ContactIds: []string{gone}})
	seq = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p3", TagIds: ids(tags...), ContactIds: []string{foreign}})
	waitHandled(t, env, seq)

	var dls []bus.DeadLetter
	fleettest.Eventually(t, 10*time.Second, "dead letters", func() bool { dls = bustest.DeadLetters(t, env.JS, ""); return len(dls) >= 3 })
	// p2 and p3 are single calls, or one bulk call when their writes
	// were merged (merge.go): HighLevel words the refusal either way.
	want := []struct{ item, post, reason string }{
		{"contact " + gone, "post p1", "contact is deleted"},
		{"contact " + gone, "post p2", "Contact not found|contact is deleted"},
		{"contact " + foreign, "post p3", "403|contact does not belong to location"},
	}
	if len(dls) != len(want) {
		t.Fatalf("got %d dead letters, want %d: %+v", len(dls), len(want), dls)
	}
	// The consumer handles two events at once: match in any order.
	for _, w := range want {
		i := slices.IndexFunc(dls, func(dl bus.DeadLetter) bool {
			var ev socialsyncv1.PostEvent
			if err := bus.Unmarshal(dl.Header, dl.Data, &ev); err != nil {
				t.Fatal(err)
			}
			return dl.Subject == "socialsync.dlq.contactsync."+loc && dl.Item == w.item && dl.Class == "permanent" &&
				strings.Contains(dl.Reason, w.item) && strings.Contains(dl.Reason, w.post) && containsAny(dl.Reason, strings.Split(w.reason, "|")) &&
				"post "+ev.GetPostId() == w.post
		})
		if i < 0 {
			t.Errorf("no dead letter %+v among %+v", w, dls)
			continue
		}
		dls = slices.Delete(dls, i, i+1)
	}
	for _, ev := range contactEvents(t, env, loc) {
		if ev.GetContactId() == gone || ev.GetContactId() == foreign {
			t.Errorf("an event for refused contact %s", ev.GetContactId())
		}
	}
	if info := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync); info.NumAckPending != 0 || info.NumRedelivered != 0 {
		t.Errorf("consumer: %d pending acks, %d redelivered; want every event acked at once", info.NumAckPending, info.NumRedelivered)
	}
}

// Bad input becomes a dead letter with a reason, and the worker goes on.
func TestBadInputIsDeadLettered(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tags := liveTags(t, l, 1)
	contacts := env.LiveContacts(t, loc, 1)
	startWorker(t, env)
	subject, _ := topology.PostTriggers.Subject(loc)
	pub := func(subject string, m *socialsyncv1.PostEvent) {
		t.Helper()
		publishRaw(t, env, subject, bustest.Marshal(t, m))
	}
	publishRaw(t, env, subject, []byte("\xff\xfe not protobuf"))
	publishRaw(t, env, subject, []byte(`{"locationId": 42}`), "Content-Type", "application/json")
	pub("socialsync.trigger.post.NoSuchLocation1", &socialsyncv1.PostEvent{LocationId: "NoSuchLocation1", PostId: "p1"})
	pub("socialsync.trigger.post.bad-location", &socialsyncv1.PostEvent{LocationId: "bad-location", PostId: "p1"})
	pub(subject, &socialsyncv1.PostEvent{LocationId: "SomeOtherLocation", PostId: "p1"})
	pub(subject, &socialsyncv1.PostEvent{LocationId: loc, PostId: "a\nb"})
	pub(subject, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", ContactIds: []string{"*"}})
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: ids(tags...), ContactIds: contacts})

	waitTags(t, env, loc, contacts, []string{social(tags[0])}, nil)
	waitHandled(t, env, seq)
	want := []struct{ subject, reason string }{
		{"socialsync.dlq.contactsync." + loc, "undecodable"},
		{"socialsync.dlq.contactsync." + loc, "undecodable"},
		{"socialsync.dlq.contactsync.NoSuchLocation1", "unknown location"},
		{"socialsync.dlq.contactsync._invalid", "invalid location id"},
		{"socialsync.dlq.contactsync." + loc, "does not match subject"},
		{"socialsync.dlq.contactsync." + loc, "post_id"},
		{"socialsync.dlq.contactsync." + loc, "contact_ids[0]"},
	}
	dls := bustest.DeadLetters(t, env.JS, "")
	if len(dls) != len(want) {
		t.Fatalf("got %d dead letters, want %d: %+v", len(dls), len(want), dls)
	}
	// The consumer handles two messages at once: match in any order.
	for _, w := range want {
		i := slices.IndexFunc(dls, func(dl bus.DeadLetter) bool { return dl.Subject == w.subject && strings.Contains(dl.Reason, w.reason) })
		if i < 0 {
			t.Errorf("no dead letter on %s with %q among %+v", w.subject, w.reason, dls)
			continue
		}
		dls = slices.Delete(dls, i, i+1)
	}
}

// New names the variable that is wrong.
func TestNewValidates(t *testing.T) {
	tests := []struct {
		cfg  contactsync.Config
		want string
	}{
		{contactsync.Config{Concurrency: 0, TagPrefix: "social:", BulkMin: 2}, "SOCIALSYNC_CONTACTSYNC_CONCURRENCY"},
		{contactsync.Config{Concurrency: 1, TagPrefix: " ", BulkMin: 2}, "SOCIALSYNC_CONTACT_TAG_PREFIX"},
		{contactsync.Config{Concurrency: 1, TagPrefix: "social:", BulkMin: 0}, "SOCIALSYNC_CONTACTSYNC_BULK_MIN"},
		{contactsync.Config{Concurrency: 1, TriggerConcurrency: -1, TagPrefix: "social:", BulkMin: 2}, "SOCIALSYNC_CONTACTSYNC_TRIGGER_CONCURRENCY"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := contactsync.New(tt.cfg, contactsync.Deps{})
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v) = %v, want an error naming %s", tt.cfg, err, tt.want)
			}
		})
	}
}

// Two replicas handling many posts of the same contacts at once lose no
// update: every post ends up in each contact's state, and deleting them
// all leaves no social tag behind.
func TestReplicasRace(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[3].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tags := liveTags(t, l, 12)
	contacts := env.LiveContacts(t, loc, 2)
	more := func(c *contactsync.Config) { c.Concurrency = 6 }
	startWorker(t, env, more)
	startWorker(t, env, more)

	var want []string
	for i, tg := range tags {
		publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "post" + strconv.Itoa(i), TagIds: ids(tg), ContactIds: contacts})
		want = append(want, social(tg))
	}
	waitTags(t, env, loc, contacts, want, nil)
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		fleettest.Eventually(t, 20*time.Second, "every post in the state of "+c, func() bool {
			e, err := kv.Get(context.Background(), "contact."+loc+"."+c)
			if err != nil {
				return false
			}
			var st tagging.State
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				t.Fatal(err)
			}
			return len(st.Posts) == len(tags) && len(st.Applied) == len(tags)
		})
	}
	var last uint64
	for i := range tags {
		last = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: "post" + strconv.Itoa(i), Change: socialsyncv1.Change_CHANGE_DELETED})
	}
	waitTags(t, env, loc, contacts, nil, want)
	waitHandled(t, env, last)
	for _, c := range contacts {
		for _, tg := range contactTags(t, env, loc, c) {
			if strings.HasPrefix(tg, "social:") {
				t.Errorf("%s keeps %q", c, tg)
			}
		}
	}
}

// A post id from another system ("crm-post-1", "Bestellung-ä/42") reaches
// its contacts and is recorded under the key of (source, id), as the
// fetcher, the enricher, the gateway and the CLI accept it; one they
// refuse (257 bytes, a newline, an occurredAt far off) is refused here
// too, as bad input naming the field.
func TestPostIDsFollowTheSharedRule(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	tags := liveTags(t, l, 1)
	contacts := env.LiveContacts(t, loc, 2)
	startWorker(t, env)
	cases := bustest.PostCases(loc, ids(tags...), contacts, time.Now())
	var last uint64
	for _, c := range cases {
		last = publish(t, env, c.Event)
	}
	waitTags(t, env, loc, contacts, []string{social(tags[0])}, nil)
	waitHandled(t, env, last)
	fleettest.Eventually(t, 10*time.Second, "triggers handled", func() bool {
		return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableContactSync)
	})
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if !c.Valid {
			continue
		}
		key, err := pkgids.Key(c.Event.GetSource(), c.Event.GetPostId())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Get(context.Background(), "postcontacts."+loc+"."+key); err != nil {
			t.Errorf("%s: contacts of the post not recorded under %q: %v", c.Name, key, err)
		}
	}
	bustest.CheckPostDeadLetters(t, cases, bustest.DeadLetters(t, env.JS, "socialsync.dlq.contactsync."+loc))
}

func containsAny(s string, subs []string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}
