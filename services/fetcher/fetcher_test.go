package fetcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/fetcher/catalogue"
)

// change is a TagChanged reduced to what the tests compare.
type change struct {
	Kind, ID, Name, Previous string
}

func tagChanges(t testing.TB, env *fleettest.Env, loc string) []change {
	t.Helper()
	var out []change
	for _, ev := range bustest.Decode[socialsyncv1.TagChanged](t, bustest.Messages(t, env.JS, topology.StreamEvents, subject(t, topology.TagEvents, loc))) {
		if ev.LocationId != loc || ev.Timestamp == nil {
			t.Errorf("TagChanged %v: wrong location or no timestamp", ev)
		}
		out = append(out, change{Kind: strings.TrimPrefix(ev.Change.String(), "CHANGE_"), ID: ev.TagId, Name: ev.TagName, Previous: ev.PreviousName})
	}
	return out
}

func detailRequests(t testing.TB, env *fleettest.Env, loc string) []*socialsyncv1.TagDetailsRequested {
	t.Helper()
	return bustest.Decode[socialsyncv1.TagDetailsRequested](t, bustest.Messages(t, env.JS, topology.StreamTriggers, subject(t, topology.TagDetailsTriggers, loc)))
}

func loadCatalogue(t testing.TB, env *fleettest.Env, loc string) (relations.Catalogue, bool) {
	t.Helper()
	raw, ok := storedCatalogue(t, env.JS, loc)
	if !ok {
		return relations.Catalogue{}, false
	}
	c, err := relations.UnmarshalCatalogue([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c, true
}

func trigger(t testing.TB, env *fleettest.Env, loc, eventID string) {
	t.Helper()
	ev := &socialsyncv1.PostEvent{LocationId: loc, PostId: "65f151c99bc2bf3aaf970d72", Change: socialsyncv1.Change_CHANGE_UPDATED, Source: "test", EventId: eventID}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.PostTriggers, loc), ev); err != nil {
		t.Fatal(err)
	}
}

var byKindAndID = cmpopts.SortSlices(func(a, b change) bool { return a.Kind+a.ID < b.Kind+b.ID })

// A location's first refresh reports every tag as discovered (a
// baseline, not new tags), asks for all
// their details in one request, and stores the catalogue; renaming,
// deleting and creating tags then shows up on the next trigger, which
// arrives as protojson as `nats pub` would send it.
func TestRefreshReportsChangesAndStoresCatalogue(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Summer Sale", "Launch", "Behind the scenes")
	startWorker(t, env, func(c *fetcher.Config) { c.RefreshInterval = 100 * time.Millisecond })

	trigger(t, env, loc, "first")
	fleettest.Eventually(t, 10*time.Second, "catalogue stored", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })
	want := []change{
		{"DISCOVERED", ids["Summer Sale"], "Summer Sale", ""},
		{"DISCOVERED", ids["Launch"], "Launch", ""},
		{"DISCOVERED", ids["Behind the scenes"], "Behind the scenes", ""},
	}
	if diff := cmp.Diff(want, tagChanges(t, env, loc), byKindAndID); diff != "" {
		t.Errorf("first refresh events (-want +got):\n%s", diff)
	}
	reqs := detailRequests(t, env, loc)
	if len(reqs) != 1 || reqs[0].RequestedBy != "fetcher" {
		t.Fatalf("details requests = %v, want one from the fetcher", reqs)
	}
	if diff := cmp.Diff([]string{ids["Summer Sale"], ids["Launch"], ids["Behind the scenes"]}, reqs[0].TagIds, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("details requested (-want +got):\n%s", diff)
	}
	cat, _ := loadCatalogue(t, env, loc)
	if len(cat.Tags) != 3 || cat.FetchedAt.IsZero() {
		t.Errorf("stored catalogue %+v, want 3 tags and a fetch time", cat)
	}

	// Rename, delete and create a tag in HighLevel.
	env.Admin(t, "PUT", "/_sandbox/locations/"+loc+"/socialTags/"+ids["Launch"], map[string]string{"tag": "Product Launch"}, nil)
	env.Admin(t, "DELETE", "/_sandbox/locations/"+loc+"/socialTags/"+ids["Behind the scenes"], nil, nil)
	var fresh struct {
		ID string `json:"_id"`
	}
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/socialTags", map[string]string{"tag": "Winter"}, &fresh)

	// The next trigger arrives as protojson.
	data, err := protojson.Marshal(&socialsyncv1.PostEvent{LocationId: loc, PostId: "65f151c99bc2bf3aaf970d73", Source: "nats-cli"})
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg(subject(t, topology.PostTriggers, loc))
	msg.Data = data
	msg.Header.Set("Content-Type", "application/json")
	if _, err := env.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "second refresh's events", func() bool { return len(tagChanges(t, env, loc)) == 6 })
	want = append(want,
		change{"RENAMED", ids["Launch"], "Product Launch", "Launch"},
		change{"DELETED", ids["Behind the scenes"], "Behind the scenes", ""},
		change{"CREATED", fresh.ID, "Winter", ""},
	)
	if diff := cmp.Diff(want, tagChanges(t, env, loc), byKindAndID); diff != "" {
		t.Errorf("events after rename, delete and create (-want +got):\n%s", diff)
	}
	fleettest.Eventually(t, 10*time.Second, "second details request", func() bool { return len(detailRequests(t, env, loc)) == 2 })
	if diff := cmp.Diff([]string{fresh.ID, ids["Launch"]}, detailRequests(t, env, loc)[1].TagIds, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("details requested for the new and renamed tags (-want +got):\n%s", diff)
	}
	fleettest.Eventually(t, 5*time.Second, "catalogue updated", func() bool {
		cat, _ := loadCatalogue(t, env, loc)
		names := map[string]string{}
		for _, tag := range cat.Tags {
			names[tag.ID] = tag.Name
		}
		return len(cat.Tags) == 3 && names[ids["Launch"]] == "Product Launch" && names[fresh.ID] == "Winter"
	})
}

// A burst of 300 post triggers for one location costs a handful of
// catalogue fetches.
func TestBurstOfTriggersCoalesces(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "a", "b", "c", "d", "e")
	startWorker(t, env) // RefreshInterval 1s, the default

	const n, publishers = 300, 8
	start := time.Now()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < n; i += publishers {
				trigger(t, env, loc, fmt.Sprint("burst-", i))
			}
		})
	}
	wg.Wait()
	published := time.Since(start)
	fleettest.Eventually(t, 20*time.Second, "quiet", func() bool {
		return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableFetcher) && bustest.Quiet(t, env.JS, topology.StreamRefresh, topology.DurableFetcher)
	})
	calls := tagListCalls(t, env, loc)
	t.Logf("%d triggers published in %v cost %d catalogue fetches", n, published.Round(time.Millisecond), calls)
	if calls < 1 || calls > 5 {
		t.Errorf("%d post triggers cost %d GET /social-media-posting/%s/tags calls, want 1 to 5", n, calls, loc)
	}
	if got := len(tagChanges(t, env, loc)); got != 5 {
		t.Errorf("%d TagChanged events, want 5 (one per tag, none repeated)", got)
	}
	if got := len(detailRequests(t, env, loc)); got != 1 {
		t.Errorf("%d details requests, want 1", got)
	}
}

// A trigger delivered twice, a second trigger with nothing new, and a
// crash between publishing the events and storing the catalogue publish
// nothing twice.
func TestNothingPublishedTwice(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "one", "two")
	startWorker(t, env, func(c *fetcher.Config) { c.RefreshInterval = 100 * time.Millisecond })

	trigger(t, env, loc, "e1")
	fleettest.Eventually(t, 10*time.Second, "first refresh", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })
	fleettest.Eventually(t, 10*time.Second, "quiet", func() bool { return bustest.Quiet(t, env.JS, topology.StreamRefresh, topology.DurableFetcher) })
	first, _ := loadCatalogue(t, env, loc)

	// The same event again: the stream's duplicate window drops it.
	trigger(t, env, loc, "e1")
	// Another event with nothing new: a fetch, but no event.
	trigger(t, env, loc, "e2")
	fleettest.Eventually(t, 10*time.Second, "second fetch stored", func() bool {
		c, _ := loadCatalogue(t, env, loc)
		return c.FetchedAt.After(first.FetchedAt)
	})
	// A crash after publishing, before storing: the stored catalogue is
	// still the old one (here: none), and the refresh runs again.
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(context.Background(), loc); err != nil {
		t.Fatal(err)
	}
	trigger(t, env, loc, "e3")
	fleettest.Eventually(t, 10*time.Second, "catalogue stored again", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })
	fleettest.Eventually(t, 10*time.Second, "quiet", func() bool {
		return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableFetcher) && bustest.Quiet(t, env.JS, topology.StreamRefresh, topology.DurableFetcher)
	})

	if calls := tagListCalls(t, env, loc); calls != 3 {
		t.Errorf("%d catalogue fetches, want 3 (e1, e2, e3; the repeated e1 dropped)", calls)
	}
	if got := len(tagChanges(t, env, loc)); got != 2 {
		t.Errorf("%d TagChanged events, want 2: the repeats were published again", got)
	}
	if got := len(detailRequests(t, env, loc)); got != 1 {
		t.Errorf("%d details requests, want 1", got)
	}
}

// Bad input becomes a dead letter with its reason, and the fetcher goes
// on with the next message.
func TestBadInputIsDeadLettered(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "x")
	startWorker(t, env)
	ctx := context.Background()
	publishRaw := func(subject string, data []byte) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = data
		if _, err := env.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	post := func(l, postID string) []byte {
		b, err := bus.Marshal(&socialsyncv1.PostEvent{LocationId: l, PostId: postID})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const unknown = "NotConnectedLoc01234"
	publishRaw(subject(t, topology.PostTriggers, loc), []byte("\xff\xff not protobuf"))
	publishRaw(subject(t, topology.PostTriggers, loc), post("OtherLocation", "p1"))
	publishRaw(subject(t, topology.PostTriggers, loc), post(loc, ""))
	publishRaw(subject(t, topology.PostTriggers, unknown), post(unknown, "p1"))
	publishRaw("socialsync.trigger.post.bad-location", post("bad-location", "p1"))
	publishRaw(subject(t, topology.CatalogueRefreshes, loc), []byte("not a refresh either"))
	fleettest.Eventually(t, 10*time.Second, "dead letters", func() bool {
		// Bad post triggers, the unknown location's included, are
		// dead-lettered by contactsync, the owner of post triggers; the
		// fetcher acks them. Its own refresh subject is its to
		// dead-letter.
		return len(bustest.DeadLetters(t, env.JS, "socialsync.dlq.fetcher."+loc)) == 1
	})
	// The valid trigger comes after the bad refresh was handled: its
	// refresh, on the same subject, would replace the bad one in the
	// stream (one pending refresh per location) before a loaded fetcher
	// saw it.
	trigger(t, env, loc, "valid")
	fleettest.Eventually(t, 10*time.Second, "valid trigger handled", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })
	if n := len(bustest.DeadLetters(t, env.JS, "socialsync.dlq.fetcher."+unknown)); n != 0 {
		t.Errorf("the fetcher dead-lettered the unknown location's trigger %d times; contactsync owns it", n)
	}
	var reasons []string
	for _, dl := range bustest.DeadLetters(t, env.JS, "socialsync.dlq.fetcher.>") {
		if dl.Reason == "" || dl.Class == "" {
			t.Errorf("dead letter on %s without reason or class: %+v", dl.Subject, dl)
		}
		reasons = append(reasons, dl.Class+": "+dl.Reason)
	}
	sort.Strings(reasons)
	for _, want := range []string{"undecodable"} {
		if !strings.Contains(strings.Join(reasons, "\n"), want) {
			t.Errorf("no dead letter mentions %q; reasons:\n%s", want, strings.Join(reasons, "\n"))
		}
	}
}

// The posts poller turns posts updated since its last poll into post
// triggers, once, and keeps its cursor in KV.
func TestPollerPublishesUpdatedPosts(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "polled")
	var post struct {
		ID string `json:"_id"`
	}
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": []string{ids["polled"]}}, &post)
	startWorker(t, env, func(c *fetcher.Config) { c.PollInterval = time.Second })

	postSubject := subject(t, topology.PostTriggers, loc)
	fleettest.Eventually(t, 10*time.Second, "polled post trigger", func() bool { return len(bustest.Messages(t, env.JS, topology.StreamTriggers, postSubject)) == 1 })
	ev := bustest.Decode[socialsyncv1.PostEvent](t, bustest.Messages(t, env.JS, topology.StreamTriggers, postSubject))[0]
	if ev.PostId != post.ID || ev.Source != "highlevel" || !strings.HasPrefix(ev.EventId, "poll:"+loc+":"+post.ID+":") ||
		!cmp.Equal(ev.TagIds, []string{ids["polled"]}) || ev.OccurredAt == nil {
		t.Errorf("polled event = %v", ev)
	}
	if err := bus.CheckPostEvent(ev, time.Now()); err != nil {
		t.Errorf("the poller published what consumers refuse: %v", err)
	}
	fleettest.Eventually(t, 10*time.Second, "the polled trigger refreshed the catalogue", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })

	// The next polls find nothing new.
	rel, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	cursor := func() catalogue.PollCursor {
		e, err := rel.Get(context.Background(), relations.PollCursorKey(loc))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return catalogue.PollCursor{}
		}
		if err != nil {
			t.Fatal(err)
		}
		var c catalogue.PollCursor
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	firstPoll := cursor().PolledAt
	fleettest.Eventually(t, 10*time.Second, "a second poll", func() bool { return cursor().PolledAt.After(firstPoll) })
	if got := len(bustest.Messages(t, env.JS, topology.StreamTriggers, postSubject)); got != 1 {
		t.Errorf("%d post triggers after a poll with nothing new, want 1", got)
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	base := fetcher.Config{Config: fleet.DefaultConfig(), Concurrency: 4, RefreshInterval: time.Second, PollWindow: time.Hour}
	base.TokenKey = "set"
	tests := []struct {
		name   string
		change func(*fetcher.Config)
		want   string
	}{
		{"concurrency", func(c *fetcher.Config) { c.Concurrency = 0 }, "SOCIALSYNC_FETCHER_CONCURRENCY"},
		{"refresh interval", func(c *fetcher.Config) { c.RefreshInterval = -time.Second }, "SOCIALSYNC_FETCHER_REFRESH_INTERVAL"},
		{"poll interval", func(c *fetcher.Config) { c.PollInterval = time.Millisecond }, "SOCIALSYNC_FETCHER_POLL_INTERVAL"},
		{"catalogue refresh period", func(c *fetcher.Config) { c.CatalogueEvery = time.Millisecond }, "SOCIALSYNC_FETCHER_CATALOGUE_EVERY"},
		{"poll window", func(c *fetcher.Config) { c.PollWindow = time.Minute }, "SOCIALSYNC_FETCHER_POLL_WINDOW"},
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			err := c.Validate()
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// A post id from another system ("crm-post-1", "Bestellung-ä/42") is
// accepted, as the gateway, the CLI, the enricher and contactsync accept
// it; one they refuse (257 bytes, a newline, an occurredAt far off) is
// refused here too, as bad input (dead-lettered by contactsync alone).
func TestTriggerIDsFollowTheSharedRule(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "Launch")
	startWorker(t, env)
	cases := bustest.PostCases(loc, nil, nil, time.Now())
	for _, c := range cases {
		if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.PostTriggers, loc), c.Event); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 10*time.Second, "triggers handled", func() bool {
		_, ok := loadCatalogue(t, env, loc)
		return ok && bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableFetcher)
	})
	// Refused input is dead-lettered once, by contactsync (the owner of
	// post triggers); the fetcher acks it and counts it.
	if dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.fetcher."+loc); len(dls) != 0 {
		t.Errorf("the fetcher wrote %d dead letters, want none (contactsync owns post triggers): %+v", len(dls), dls)
	}
}

// With no post trigger at all, the periodic refresher fetches a
// location's catalogue (its baseline), and later notices a tag renamed in
// Social Planner.
func TestPeriodicRefreshNoticesQuietLocations(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Summer Sale", "Launch")
	startWorker(t, env, func(c *fetcher.Config) { c.RefreshInterval = 100 * time.Millisecond; c.CatalogueEvery = time.Second })

	fleettest.Eventually(t, 30*time.Second, "the baseline fetched", func() bool { _, ok := loadCatalogue(t, env, loc); return ok })
	env.Admin(t, "PUT", "/_sandbox/locations/"+loc+"/socialTags/"+ids["Launch"], map[string]any{"tag": "Big Launch"}, nil)
	want := change{"RENAMED", ids["Launch"], "Big Launch", "Launch"}
	fleettest.Eventually(t, 30*time.Second, "the rename noticed", func() bool {
		for _, c := range tagChanges(t, env, loc) {
			if c == want {
				return true
			}
		}
		return false
	})
	for _, c := range tagChanges(t, env, loc) {
		if c.Kind == "CREATED" {
			t.Errorf("change %+v: the baseline's tags are discovered, and nothing was created", c)
		}
	}
}
