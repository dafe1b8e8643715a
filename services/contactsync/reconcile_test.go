package contactsync_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// A contact tag removed by hand in HighLevel is reported by a dry run,
// added again under the repair policy, and under respect recorded, so that
// the next event of the same post leaves it off until the post's tags
// change. A tag of socialsync's naming on a contact socialsync does not
// know is reported as foreign and left alone.
func TestReconcile(t *testing.T) {
	env := fleettest.Start(t, "demo")
	// A location of two tags: reconciliation searches once per tag.
	loc, _ := env.NewTaggedLocation(t, "Launch", "Sale")
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	launch, sale := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	var contacts []string
	for range 3 {
		var c ghlsim.ContactView
		env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{}, &c)
		contacts = append(contacts, c.ID)
	}
	a, b, stranger := contacts[0], contacts[1], contacts[2]
	// The clock runs ahead when the test says so: reconciliation leaves
	// out contacts written in the last minute.
	var ahead atomic.Int64
	startHookedWorker(t, env, func(w *contactsync.Worker) {
		w.SetClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) })
	})
	ctx := context.Background()
	client := env.Deps.Client(loc)

	p1 := createPost(t, env, loc, launch, sale)
	first := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(launch, sale), ContactIds: []string{a, b}, EventId: "e1"})
	waitTags(t, env, loc, []string{a, b}, []string{social(launch), social(sale)}, nil)
	// HighLevel has the tags before the contacts' states are stored: a
	// run in between finds a contact socialsync does not know yet.
	waitHandled(t, env, first)
	// By hand: sale off a, sale onto a contact socialsync never tagged.
	if _, err := client.RemoveContactTags(ctx, a, []string{social(sale)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddContactTags(ctx, stranger, []string{social(sale)}); err != nil {
		t.Fatal(err)
	}

	// Just written: left out.
	run := reconcileRun(t, env, loc, "r0", true)
	if run.Missing != 0 || run.Recent != 1 || run.Foreign != 1 {
		t.Errorf("run at once: missing %d, recent %d, foreign %d; want 0, 1, 1", run.Missing, run.Recent, run.Foreign)
	}
	ahead.Store(int64(2 * time.Minute))

	run = reconcileRun(t, env, loc, "r1", true)
	want := map[relations.DriftItem]bool{
		{Kind: "missing", Contact: a, Tag: social(sale)}:        true,
		{Kind: "foreign", Contact: stranger, Tag: social(sale)}: true,
	}
	if run.Missing != 1 || run.Stale != 0 || run.Foreign != 1 || len(run.Items) != 2 || !want[run.Items[0]] || !want[run.Items[1]] {
		t.Errorf("dry run: %+v", run)
	}
	if run.Policy != settings.PolicyRespect || run.Cost.SearchCalls != 2 || run.Calls != 2 || run.Cost.Contacts != 2 {
		t.Errorf("dry run: policy %q, cost %+v, calls %d; want respect, 2 search calls for 2 contacts", run.Policy, run.Cost, run.Calls)
	}
	if hasTag(contactTags(t, env, loc, a), social(sale)) {
		t.Error("the dry run repaired")
	}

	setPolicy(t, env, loc, settings.PolicyRepair)
	run = reconcileRun(t, env, loc, "r2", false)
	if run.Missing != 1 || run.Repaired != 1 || run.Policy != settings.PolicyRepair {
		t.Errorf("repair run: %+v", run)
	}
	waitTags(t, env, loc, []string{a}, []string{social(sale)}, nil)
	if !hasTag(contactTags(t, env, loc, stranger), social(sale)) {
		t.Error("a foreign tag was removed")
	}

	// Removed by hand again, under respect.
	if _, err := client.RemoveContactTags(ctx, a, []string{social(sale)}); err != nil {
		t.Fatal(err)
	}
	setPolicy(t, env, loc, settings.PolicyRespect)
	run = reconcileRun(t, env, loc, "r3", false)
	if run.Missing != 1 || run.Recorded != 1 || run.Repaired != 0 {
		t.Errorf("respect run: %+v", run)
	}
	var st relations.ContactState
	readJSON(t, env, relations.ContactKey(loc, a), &st)
	if _, ok := st.Removed[social(sale)]; !ok || hasTag(st.Applied, social(sale)) {
		t.Errorf("state of %s after respect: %+v", a, st)
	}
	// The same post again: sale stays off a, on b.
	seq := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(launch, sale), ContactIds: []string{a, b}, EventId: "e2"})
	waitHandled(t, env, seq)
	if hasTag(contactTags(t, env, loc, a), social(sale)) || !hasTag(contactTags(t, env, loc, b), social(sale)) {
		t.Errorf("after the same post: %s has %v, %s has %v", a, contactTags(t, env, loc, a), b, contactTags(t, env, loc, b))
	}
	// Next reconciliation finds nothing to report for a.
	if run = reconcileRun(t, env, loc, "r4", true); run.Missing != 0 {
		t.Errorf("after respect, run reports %d missing: %+v", run.Missing, run.Items)
	}
	// The post's tags change: sale comes back.
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p1, TagIds: ids(sale), ContactIds: []string{a, b}, EventId: "e3"})
	waitTags(t, env, loc, []string{a}, []string{social(sale)}, []string{social(launch)})
}

// reconcileRun requests reconciliation id of loc and waits for its end.
func reconcileRun(t *testing.T, env *fleettest.Env, loc, id string, dryRun bool) relations.ReconcileRun {
	t.Helper()
	subject, err := topology.ReconcileTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject,
		&socialsyncv1.ReconcileRequested{LocationId: loc, DryRun: dryRun, RunId: id, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	var run relations.ReconcileRun
	fleettest.Eventually(t, 30*time.Second, "reconciliation "+id+" done", func() bool {
		run = relations.ReconcileRun{}
		readJSON(t, env, relations.ReconcileKey(loc), &run)
		return run.ID == id && run.State == relations.ReconcileDone
	})
	return run
}

// readJSON reads the relations value at key into v, if there is one.
func readJSON(t *testing.T, env *fleettest.Env, key string, v any) {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		t.Fatal(err)
	}
}

// setPolicy stores loc's mapping with the reconciliation policy p.
func setPolicy(t *testing.T, env *fleettest.Env, loc, p string) {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, Reconcile: settings.ReconcileMapping{Policy: p}}); err != nil {
		t.Fatal(err)
	}
}

// A location whose mapping has reconcile.every is reconciled once in each
// period, by the scheduler of a contactsync replica, under its policy.
func TestScheduledReconciliation(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs := env.NewTaggedLocation(t, "Promo")
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	var c ghlsim.ContactView
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{}, &c)
	// The worker's clock: noon tomorrow (UTC), running, so that the
	// contact's state written now is not recent and no day starts during
	// the test.
	start := time.Now()
	at := start.UTC().Truncate(24 * time.Hour).Add(36 * time.Hour)
	var offset atomic.Int64
	startHookedWorker(t, env, func(w *contactsync.Worker) {
		w.SetClock(func() time.Time { return at.Add(time.Since(start) + time.Duration(offset.Load())) })
	}, func(c *contactsync.Config) { c.ReconcileCheck = 100 * time.Millisecond })

	p := createPost(t, env, loc, ghlsim.TagView{ID: tagIDs["Promo"], Tag: "Promo"})
	first := publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p, TagIds: []string{tagIDs["Promo"]}, ContactIds: []string{c.ID}, EventId: "e1"})
	waitTags(t, env, loc, []string{c.ID}, []string{"social:promo"}, nil)
	// HighLevel has the tag before the contact's state is stored: a run in
	// between finds a contact socialsync does not know yet.
	waitHandled(t, env, first)
	if _, err := env.Deps.Client(loc).RemoveContactTags(context.Background(), c.ID, []string{"social:promo"}); err != nil {
		t.Fatal(err)
	}
	// Two minutes on: the contact socialsync wrote is not recent.
	offset.Store(int64(2 * time.Minute))

	// A schedule set: the day's run comes with the next check.
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc,
		Reconcile: settings.ReconcileMapping{Policy: settings.PolicyRepair, Every: "24h"}}); err != nil {
		t.Fatal(err)
	}
	want := "sched-" + strconv.FormatInt(at.Truncate(24*time.Hour).Unix(), 10)
	var run relations.ReconcileRun
	fleettest.Eventually(t, 20*time.Second, "the scheduled run done", func() bool {
		run = relations.ReconcileRun{}
		readJSON(t, env, relations.ReconcileKey(loc), &run)
		return run.ID == want && run.State == relations.ReconcileDone
	})
	if run.RequestedBy != "schedule" || run.Repaired != 1 {
		t.Errorf("scheduled run: %+v", run)
	}
	waitTags(t, env, loc, []string{c.ID}, []string{"social:promo"}, nil)
	// The next day's.
	offset.Store(int64(24*time.Hour + 2*time.Minute))
	next := "sched-" + strconv.FormatInt(at.Add(24*time.Hour).Truncate(24*time.Hour).Unix(), 10)
	fleettest.Eventually(t, 20*time.Second, "the next day's run done", func() bool {
		run = relations.ReconcileRun{}
		readJSON(t, env, relations.ReconcileKey(loc), &run)
		return run.ID == next && run.State == relations.ReconcileDone
	})
}

// A run works in slices: past ReconcileSlice it stores its cursor and
// hands its request back, and the next delivery goes on from the cursor,
// searching no tag twice.
func TestReconcileResumes(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "A", "B", "C")
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	// Every reading of the clock is half a slice later than the one
	// before: a delivery does one tag, then hands the request back.
	var ticks atomic.Int64
	start := time.Now().Add(time.Hour)
	startHookedWorker(t, env, func(w *contactsync.Worker) {
		w.SetClock(func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * contactsync.ReconcileSlice / 2) })
	})
	run := reconcileRun(t, env, loc, "slices", true)
	if run.Cursor != 3 || run.Calls != 3 || len(run.Tags) != 3 {
		t.Errorf("run: cursor %d, calls %d, tags %v; want 3, 3, 3 tags", run.Cursor, run.Calls, run.Tags)
	}
	if n := env.Calls(t, loc, "POST", "/contacts/search"); n != 3 {
		t.Errorf("%d searches, want one per tag", n)
	}
	info := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableReconcile)
	if info.Delivered.Consumer < 3 {
		t.Errorf("the run took %d deliveries; want one a tag", info.Delivered.Consumer)
	}
}
