package enricher_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	relkeys "github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher"
)

var sorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// publishRaw publishes m's protobuf (or protojson, asJSON) to subject with
// the Nats-Msg-Id msgID, as an outside system would.
func publishRaw(t testing.TB, env *fleettest.Env, subject string, m proto.Message, msgID string, asJSON bool) {
	t.Helper()
	var data []byte
	var err error
	msg := nats.NewMsg(subject)
	if asJSON {
		data, err = protojson.Marshal(m)
		msg.Header.Set("Content-Type", "application/json")
	} else {
		data, err = bus.Marshal(m)
	}
	if err != nil {
		t.Fatal(err)
	}
	msg.Data = data
	if msgID != "" {
		msg.Header.Set(nats.MsgIdHdr, msgID)
	}
	if _, err := env.JS.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
}

func requestDetails(t testing.TB, env *fleettest.Env, loc string, ids []string, eventID string) {
	t.Helper()
	req := &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: ids, RequestedBy: "test", EventId: eventID}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.TagDetailsTriggers, loc), req); err != nil {
		t.Fatal(err)
	}
}

func storedDetail(t testing.TB, env *fleettest.Env, loc, tagID string) (*socialsyncv1.TagDetail, uint64) {
	t.Helper()
	data, rev, ok := bustest.Entry(t, env.JS, topology.BucketTagDetails, loc+"."+tagID)
	if !ok {
		return nil, 0
	}
	var d socialsyncv1.TagDetail
	if err := protojson.Unmarshal(data, &d); err != nil {
		t.Fatalf("stored details of %s are not protojson TagDetail: %v", tagID, err)
	}
	return &d, rev
}

func locationTags(t testing.TB, env *fleettest.Env, loc string) []string {
	t.Helper()
	detail := env.Location(t, loc)
	return detail.LocationTags
}

func storedEvents(t testing.TB, env *fleettest.Env, loc string) []*socialsyncv1.TagDetailsStored {
	t.Helper()
	return bustest.Decode[socialsyncv1.TagDetailsStored](t, bustest.Messages(t, env.JS, topology.StreamEvents, subject(t, topology.TagDetailsEvents, loc)))
}

// Details are fetched, stored and announced; the tags' names become the
// location's contact tags, once; a request handled again writes nothing
// again.
func TestDetailsStoredMirroredAndAnnounced(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Summer Sale", "Launch", "Other")
	env.Admin(t, "DELETE", "/_sandbox/locations/"+loc+"/socialTags/"+ids["Other"], nil, nil)
	startWorker(t, env, mirrorOn)

	// As protojson, the way `nats pub` users send it.
	req := &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: []string{ids["Summer Sale"], ids["Launch"], ids["Other"]}, RequestedBy: "test"}
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, loc), req, "first", true)
	fleettest.Eventually(t, 10*time.Second, "details announced", func() bool { return len(storedEvents(t, env, loc)) == 1 })

	d, rev := storedDetail(t, env, loc, ids["Summer Sale"])
	if d == nil || d.TagName != "Summer Sale" || d.Deleted || d.CreatedAt == nil || d.UpdatedAt == nil {
		t.Errorf("stored details of Summer Sale = %v", d)
	}
	if gone, _ := storedDetail(t, env, loc, ids["Other"]); gone == nil || !gone.Deleted {
		t.Errorf("stored details of the deleted tag = %v, want deleted", gone)
	}
	ev := storedEvents(t, env, loc)[0]
	var names []string
	for _, td := range ev.TagDetails {
		names = append(names, td.TagName)
	}
	if diff := cmp.Diff([]string{"Summer Sale", "Launch", "Other"}, names, sorted); diff != "" || ev.RetrievedAt == nil {
		t.Errorf("TagDetailsStored names (-want +got):\n%s (retrieved at %v)", diff, ev.RetrievedAt)
	}
	// HighLevel lowers contact tag names; the deleted tag is not mirrored.
	if diff := cmp.Diff([]string{"social:launch", "social:summer sale"}, locationTags(t, env, loc), sorted); diff != "" {
		t.Errorf("location tags (-want +got):\n%s", diff)
	}
	tagsPath := "/locations/" + loc + "/tags"
	if n := env.Calls(t, loc, "POST", tagsPath); n != 2 {
		t.Errorf("%d contact tags created, want 2", n)
	}

	// The same request again, as if redelivered (same content, the
	// stream's duplicate check bypassed with another Nats-Msg-Id).
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, loc), req, "second", false)
	// Another request for the same tags: new event, still no new tag.
	requestDetails(t, env, loc, []string{ids["Launch"], ids["Summer Sale"]}, "third")
	detailsPath := "/social-media-posting/" + loc + "/tags/details"
	fleettest.Eventually(t, 10*time.Second, "three requests handled", func() bool {
		return env.Calls(t, loc, "POST", detailsPath) == 3 && bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableEnricher)
	})
	if n := env.Calls(t, loc, "POST", tagsPath); n != 2 {
		t.Errorf("after identical requests %d contact tags created in all, want still 2", n)
	}
	if n := env.Calls(t, loc, "GET", tagsPath); n != 3 {
		t.Errorf("contact tag catalogue listed %d times for 3 requests, want once each", n)
	}
	if _, again := storedDetail(t, env, loc, ids["Summer Sale"]); again != rev {
		t.Errorf("details rewritten by an identical request: revision %d → %d", rev, again)
	}
	if n := len(storedEvents(t, env, loc)); n != 2 {
		t.Errorf("%d TagDetailsStored events, want 2 (the redelivered request's dropped as a duplicate)", n)
	}
}

// By default the location-tag mirror is off: details are stored and
// announced with no call to the location's tag list.
func TestNoMirrorByDefault(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Summer Sale", "Launch")
	startWorker(t, env)
	req := &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: []string{ids["Summer Sale"], ids["Launch"]}, RequestedBy: "test"}
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, loc), req, "first", true)
	fleettest.Eventually(t, 10*time.Second, "details announced", func() bool { return len(storedEvents(t, env, loc)) == 1 })
	if d, _ := storedDetail(t, env, loc, ids["Launch"]); d == nil || d.TagName != "Launch" {
		t.Errorf("stored details of Launch = %v", d)
	}
	tagsPath := "/locations/" + loc + "/tags"
	if n := env.Calls(t, loc, "GET", tagsPath) + env.Calls(t, loc, "POST", tagsPath); n != 0 {
		t.Errorf("%d calls to the location's tag list, want none", n)
	}
	if tags := locationTags(t, env, loc); len(tags) != 0 {
		t.Errorf("location tags %v, want none", tags)
	}
}

// 150 ids cost two details calls (100 + 50), and every tag is stored and
// mirrored.
func TestDetailsBatchedByHundred(t *testing.T) {
	env := fleettest.Start(t, "empty")
	names := make([]string, 150)
	for i := range names {
		names[i] = fmt.Sprintf("tag %03d", i)
	}
	loc, ids := env.NewTaggedLocation(t, names...)
	// 150 contact tags to create: more than the default 100 requests per
	// 10 s a location may make.
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": 1000, "window": "10s", "daily": 200000}}, nil)
	startWorker(t, env, mirrorOn)

	all := make([]string, 0, len(ids))
	for _, id := range ids {
		all = append(all, id)
	}
	requestDetails(t, env, loc, all, "batch")
	fleettest.Eventually(t, 30*time.Second, "two TagDetailsStored", func() bool { return len(storedEvents(t, env, loc)) == 2 })

	if n := env.Calls(t, loc, "POST", "/social-media-posting/"+loc+"/tags/details"); n != 2 {
		t.Errorf("%d tag details calls for 150 ids, want 2", n)
	}
	var sizes []int
	for _, ev := range storedEvents(t, env, loc) {
		sizes = append(sizes, len(ev.TagDetails))
	}
	sort.Ints(sizes)
	if diff := cmp.Diff([]int{50, 100}, sizes); diff != "" {
		t.Errorf("details per event (-want +got):\n%s", diff)
	}
	for name, id := range ids {
		if d, _ := storedDetail(t, env, loc, id); d == nil || d.TagName != name {
			t.Fatalf("details of %s = %v", name, d)
		}
	}
	if n := len(locationTags(t, env, loc)); n != 150 {
		t.Errorf("%d location tags, want 150", n)
	}
	if n := env.Calls(t, loc, "GET", "/locations/"+loc+"/tags"); n != 1 {
		t.Errorf("contact tag catalogue listed %d times, want once", n)
	}
}

// A create HighLevel fails (a 500) does not stop the other creates of the
// same delivery: the redelivery has only the failed ones left, so a large
// catalogue is mirrored in a few deliveries while HighLevel fails now and
// then, not one delivery (and a doubled backoff) per failure.
func TestMirrorGoesOnPastAFailedCreate(t *testing.T) {
	env := fleettest.Start(t, "empty")
	names := make([]string, 24)
	for i := range names {
		names[i] = fmt.Sprintf("tag %02d", i)
	}
	loc, ids := env.NewTaggedLocation(t, names...)
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": 1000, "window": "10s", "daily": 200000}}, nil)
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"rate500": 0.2, "seed": 5}, nil)
	startWorker(t, env, mirrorOn)

	all := make([]string, 0, len(ids))
	for _, id := range ids {
		all = append(all, id)
	}
	requestDetails(t, env, loc, all, "faulty")
	fleettest.Eventually(t, 30*time.Second, "every tag mirrored", func() bool { return len(locationTags(t, env, loc)) == len(names) })

	createPath, detailsPath := "/locations/"+loc+"/tags", "/social-media-posting/"+loc+"/tags/details"
	deliveries, failedCreates, goneOn := 0, 0, 0
	reqs := env.Requests(t, loc)
	for i, r := range reqs {
		switch {
		case r.Method == "POST" && r.Path == detailsPath:
			deliveries++
		case r.Method == "POST" && r.Path == createPath && r.Fault != "":
			failedCreates++
			// The same delivery creates on: the next call is another
			// create, not the next delivery's details call.
			if i+1 < len(reqs) && reqs[i+1].Method == "POST" && reqs[i+1].Path == createPath {
				goneOn++
			}
		}
	}
	if failedCreates == 0 {
		t.Fatalf("no create failed; the seed no longer injects a 500 into a create (requests: %d)", len(reqs))
	}
	if goneOn == 0 {
		t.Errorf("after each of %d failed creates the delivery stopped; want the other creates made", failedCreates)
	}
	if deliveries > failedCreates && deliveries > 4 {
		t.Errorf("%d deliveries for %d failed creates: the mirror does not go on past a failure", deliveries, failedCreates)
	}
	t.Logf("%d tags mirrored in %d deliveries, %d creates failed", len(names), deliveries, failedCreates)
}

// relations reads the post ↔ tag relations of loc.
type relations struct {
	Posts    map[string][]string // post id → tag ids
	TagPosts map[string][]string // tag id → post ids
}

// testSource is the source of the post events the tests publish.
const testSource = "test"

// postKey is the key part of a post of testSource.
func postKey(t testing.TB, id string) string {
	t.Helper()
	k, err := ids.Key(testSource, id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func readRelations(t testing.TB, env *fleettest.Env, loc string, posts, tags []string) relations {
	t.Helper()
	r := relations{Posts: map[string][]string{}, TagPosts: map[string][]string{}}
	for _, p := range posts {
		if data, _, ok := bustest.Entry(t, env.JS, topology.BucketRelations, "post."+loc+"."+postKey(t, p)); ok {
			var rec struct {
				TagIDs    []string  `json:"tagIds"`
				UpdatedAt time.Time `json:"updatedAt"`
			}
			if err := json.Unmarshal(data, &rec); err != nil || rec.UpdatedAt.IsZero() {
				t.Fatalf("post record %s = %s: %v", p, data, err)
			}
			r.Posts[p] = rec.TagIDs
		}
	}
	for _, tag := range tags {
		if data, _, ok := bustest.Entry(t, env.JS, topology.BucketRelations, "tagposts."+loc+"."+tag); ok {
			var rec struct {
				PostIDs []string `json:"postIds"`
			}
			if err := json.Unmarshal(data, &rec); err != nil {
				t.Fatal(err)
			}
			for _, k := range rec.PostIDs {
				source, id, err := ids.ParseKey(k)
				if err != nil || source != testSource {
					t.Fatalf("tag %s lists %q, want a post key of source %s: %v", tag, k, testSource, err)
				}
				r.TagPosts[tag] = append(r.TagPosts[tag], id)
			}
		}
	}
	return r
}

// Post triggers keep the post ↔ tag relations: an update that drops a
// tag, a stale update, a deletion and a repeated event.
func TestPostRelations(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t)
	startWorker(t, env)
	postSubject := subject(t, topology.PostTriggers, loc)
	// Event times are recent: the consumers refuse one more than 400 days
	// behind the time the stream stored it.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	post := func(id string, change socialsyncv1.Change, at time.Time, tags ...string) *socialsyncv1.PostEvent {
		return &socialsyncv1.PostEvent{LocationId: loc, PostId: id, Change: change, TagIds: tags, OccurredAt: timestamppb.New(at), Source: testSource}
	}
	posts, tags := []string{"p1", "p2"}, []string{"a", "b", "c"}
	// step publishes ev and waits until the relations are want.
	step := func(what string, ev *socialsyncv1.PostEvent, want relations) {
		t.Helper()
		if _, err := env.Deps.Publisher.Publish(context.Background(), postSubject, ev); err != nil {
			t.Fatal(err)
		}
		fleettest.Eventually(t, 10*time.Second, what+" handled", func() bool { return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableEnricher) })
		// The relation records are polled too: on a loaded machine the
		// consumer can look quiet a moment before the last record reads
		// as written.
		var diff string
		deadline := time.Now().Add(10 * time.Second)
		for {
			if diff = cmp.Diff(want, readRelations(t, env, loc, posts, tags), sorted, cmpopts.EquateEmpty()); diff == "" || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if diff != "" {
			t.Fatalf("after %s, relations (-want +got):\n%s", what, diff)
		}
	}

	step("p1 created with a and b", post("p1", socialsyncv1.Change_CHANGE_CREATED, t0, "a", "b"), relations{
		Posts:    map[string][]string{"p1": {"a", "b"}},
		TagPosts: map[string][]string{"a": {"p1"}, "b": {"p1"}},
	})
	step("p2 created with a and c", post("p2", socialsyncv1.Change_CHANGE_UNSPECIFIED, t0, "a", "c"), relations{
		Posts:    map[string][]string{"p1": {"a", "b"}, "p2": {"a", "c"}},
		TagPosts: map[string][]string{"a": {"p1", "p2"}, "b": {"p1"}, "c": {"p2"}},
	})
	dropped := relations{
		Posts:    map[string][]string{"p1": {"a"}, "p2": {"a", "c"}},
		TagPosts: map[string][]string{"a": {"p1", "p2"}, "c": {"p2"}},
	}
	step("p1 updated without b", post("p1", socialsyncv1.Change_CHANGE_UPDATED, t0.Add(time.Minute), "a"), dropped)
	step("a stale update of p1", post("p1", socialsyncv1.Change_CHANGE_UPDATED, t0.Add(30*time.Second), "b", "c"), dropped)

	// The same event delivered again (another Nats-Msg-Id) writes nothing.
	_, revBefore, _ := bustest.Entry(t, env.JS, topology.BucketRelations, "post."+loc+"."+postKey(t, "p1"))
	_, tagRevBefore, _ := bustest.Entry(t, env.JS, topology.BucketRelations, "tagposts."+loc+".a")
	publishRaw(t, env, postSubject, post("p1", socialsyncv1.Change_CHANGE_UPDATED, t0.Add(time.Minute), "a"), "again", true)
	fleettest.Eventually(t, 10*time.Second, "repeat handled", func() bool { return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableEnricher) })
	_, revAfter, _ := bustest.Entry(t, env.JS, topology.BucketRelations, "post."+loc+"."+postKey(t, "p1"))
	_, tagRevAfter, _ := bustest.Entry(t, env.JS, topology.BucketRelations, "tagposts."+loc+".a")
	if revAfter != revBefore || tagRevAfter != tagRevBefore {
		t.Errorf("a repeated event rewrote the relations: post revision %d → %d, tag revision %d → %d", revBefore, revAfter, tagRevBefore, tagRevAfter)
	}

	step("p1 deleted", post("p1", socialsyncv1.Change_CHANGE_DELETED, t0.Add(2*time.Minute)), relations{
		Posts:    map[string][]string{"p2": {"a", "c"}},
		TagPosts: map[string][]string{"a": {"p2"}, "c": {"p2"}},
	})
}

// A tag deletion event marks the tag's stored details deleted.
func TestTagDeletionMarksDetailsDeleted(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Fleeting")
	startWorker(t, env)
	requestDetails(t, env, loc, []string{ids["Fleeting"]}, "r1")
	fleettest.Eventually(t, 10*time.Second, "details stored", func() bool { d, _ := storedDetail(t, env, loc, ids["Fleeting"]); return d != nil })

	ev := &socialsyncv1.TagChanged{LocationId: loc, TagId: ids["Fleeting"], TagName: "Fleeting", Change: socialsyncv1.Change_CHANGE_DELETED, Timestamp: timestamppb.Now()}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.TagEvents, loc), ev); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "details marked deleted", func() bool {
		d, _ := storedDetail(t, env, loc, ids["Fleeting"])
		return d.Deleted && d.TagName == "Fleeting"
	})
	if n := env.Calls(t, loc, "POST", "/social-media-posting/"+loc+"/tags/details"); n != 1 {
		t.Errorf("%d details calls, want 1: a deletion needs no call", n)
	}
}

// Bad input becomes a dead letter with its reason, and the enricher goes
// on with the next message.
func TestBadInputIsDeadLettered(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "ok")
	startWorker(t, env)
	ctx := context.Background()
	raw := func(subject string, data []byte) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = data
		if _, err := env.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	const unknown = "NotConnectedLoc01234"
	details := subject(t, topology.TagDetailsTriggers, loc)
	raw(details, []byte("\xff garbage"))
	publishRaw(t, env, details, &socialsyncv1.TagDetailsRequested{LocationId: loc}, "", false)
	publishRaw(t, env, details, &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: []string{"a.b"}}, "", false)
	publishRaw(t, env, details, &socialsyncv1.TagDetailsRequested{LocationId: "SomewhereElse", TagIds: []string{"t1"}}, "", false)
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, unknown), &socialsyncv1.TagDetailsRequested{LocationId: unknown, TagIds: []string{"t1"}}, "", false)
	publishRaw(t, env, subject(t, topology.PostTriggers, loc), &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", TagIds: []string{""}}, "", false)
	publishRaw(t, env, subject(t, topology.PostTriggers, unknown), &socialsyncv1.PostEvent{LocationId: unknown, PostId: "p1"}, "", false)
	raw("socialsync.trigger.tagdetails.bad-loc", []byte{})
	raw(subject(t, topology.TagEvents, loc), []byte("\xff not a tag event"))
	requestDetails(t, env, loc, []string{ids["ok"]}, "valid")

	fleettest.Eventually(t, 10*time.Second, "valid request handled", func() bool { d, _ := storedDetail(t, env, loc, ids["ok"]); return d != nil })
	fleettest.Eventually(t, 10*time.Second, "dead letters", func() bool {
		// The bad post trigger, the post trigger of the unknown location
		// and the bad tag event are dead-lettered by contactsync, the
		// owner of post triggers and tag events; the enricher acks them.
		return len(bustest.DeadLetters(t, env.JS, "socialsync.dlq.enricher."+loc)) == 4 &&
			len(bustest.DeadLetters(t, env.JS, "socialsync.dlq.enricher."+unknown)) == 1 &&
			len(bustest.DeadLetters(t, env.JS, "socialsync.dlq.enricher._invalid")) == 1
	})
	var reasons []string
	for _, dl := range bustest.DeadLetters(t, env.JS, "socialsync.dlq.enricher.>") {
		if dl.Reason == "" || dl.Class == "" {
			t.Errorf("dead letter on %s without reason or class", dl.Subject)
		}
		reasons = append(reasons, dl.Reason)
	}
	all := strings.Join(reasons, "\n")
	for _, want := range []string{"undecodable", "no tag_ids", "tag_ids[0]", "does not match subject", "unknown location", "invalid location id"} {
		if !strings.Contains(all, want) {
			t.Errorf("no dead letter mentions %q; reasons:\n%s", want, all)
		}
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	base := enricher.Config{Config: fleet.DefaultConfig(), Concurrency: 4, ContactTagPrefix: "social:"}
	base.TokenKey = "set"
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		change func(*enricher.Config)
		want   string
	}{
		{"concurrency", func(c *enricher.Config) { c.Concurrency = 0 }, "SOCIALSYNC_ENRICHER_CONCURRENCY"},
		{"empty prefix", func(c *enricher.Config) { c.ContactTagPrefix = " " }, "SOCIALSYNC_CONTACT_TAG_PREFIX"},
		{"comma in prefix", func(c *enricher.Config) { c.ContactTagPrefix = "a,b" }, "SOCIALSYNC_CONTACT_TAG_PREFIX"},
		{"long prefix", func(c *enricher.Config) { c.ContactTagPrefix = strings.Repeat("x", 33) }, "SOCIALSYNC_CONTACT_TAG_PREFIX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			if err := c.Validate(); !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
}

// The mirrored contact tags follow the location's mapping template, as
// contactsync names the contacts' tags, read for every request.
func TestMirrorFollowsTheMapping(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Launch", "Promo")
	kv, err := settings.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: "Brand/{{tagName}}"}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env, mirrorOn)
	req := &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: []string{ids["Launch"]}, RequestedBy: "test"}
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, loc), req, "mapped", true)
	fleettest.Eventually(t, 10*time.Second, "details announced", func() bool { return len(storedEvents(t, env, loc)) == 1 })
	if diff := cmp.Diff([]string{"brand/launch"}, locationTags(t, env, loc), sorted); diff != "" {
		t.Errorf("location tags with the mapping (-want +got):\n%s", diff)
	}

	// Without the mapping, the prefix names the next tag.
	if err := kv.Delete(context.Background(), settings.MappingsKey(loc)); err != nil {
		t.Fatal(err)
	}
	req = &socialsyncv1.TagDetailsRequested{LocationId: loc, TagIds: []string{ids["Promo"]}, RequestedBy: "test"}
	publishRaw(t, env, subject(t, topology.TagDetailsTriggers, loc), req, "unmapped", true)
	fleettest.Eventually(t, 10*time.Second, "details announced", func() bool { return len(storedEvents(t, env, loc)) == 2 })
	if diff := cmp.Diff([]string{"brand/launch", "social:promo"}, locationTags(t, env, loc), sorted); diff != "" {
		t.Errorf("location tags after the mapping was deleted (-want +got):\n%s", diff)
	}
}

// A location whose OAuth token lacks the location tag scopes gets its
// details stored and announced without mirroring: the refused listing
// turns mirroring off on the location record (once, no refresh, no
// re-authorisation) and later requests do not try again.
func TestMirroringOffWhenTheScopeIsRefused(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Summer Sale", "Launch")
	var scopes []string
	for _, s := range ghl.LocationScopes() {
		if !strings.HasPrefix(s, "locations/tags.") {
			scopes = append(scopes, s)
		}
	}
	a := env.Sim.Apps()[0]
	tok := fleettest.Authorize(t, env.SimURL, ghl.AppCredentials{ClientID: a.ClientID, ClientSecret: a.ClientSecret}, loc,
		strings.Join(scopes, " "), ghl.UserTypeLocation)
	ctx := context.Background()
	if err := env.Deps.Creds.AddOAuth(ctx, creds.Location{ID: loc}, tok); err != nil {
		t.Fatal(err)
	}
	exchanges := env.Calls(t, loc, "POST", "/oauth/token")
	startWorker(t, env, mirrorOn)

	requestDetails(t, env, loc, []string{ids["Summer Sale"], ids["Launch"]}, "first")
	fleettest.Eventually(t, 10*time.Second, "details announced", func() bool { return len(storedEvents(t, env, loc)) == 1 })
	l, err := env.Deps.Creds.Location(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if d, off := l.FeatureDisabled(creds.FeatureLocationTags); !off || d.Scope != "locations/tags.readonly" || l.State != creds.StateActive {
		t.Errorf("location %+v; want active with location_tags off for locations/tags.readonly", l)
	}
	tagsPath := "/locations/" + loc + "/tags"
	if n := env.Calls(t, loc, "GET", tagsPath); n != 1 {
		t.Errorf("contact tag catalogue asked %d times, want once", n)
	}
	if n := env.Calls(t, loc, "POST", "/oauth/token") - exchanges; n != 0 {
		t.Errorf("%d token refreshes for a refused scope, want none", n)
	}

	requestDetails(t, env, loc, []string{ids["Launch"]}, "second")
	fleettest.Eventually(t, 10*time.Second, "second details announced", func() bool { return len(storedEvents(t, env, loc)) == 2 })
	if n := env.Calls(t, loc, "GET", tagsPath); n != 1 {
		t.Errorf("contact tag catalogue asked %d times after mirroring was turned off, want still once", n)
	}
	if tags := locationTags(t, env, loc); len(tags) != 0 {
		t.Errorf("location tags %v, want none mirrored", tags)
	}
}

// A post id from another system ("crm-post-1", "Bestellung-ä/42") is
// related to its tags under the key of (source, id), as the fetcher,
// contactsync, the gateway and the CLI accept it; one they refuse (257
// bytes, a newline, an occurredAt far off) is refused here too, as bad
// input (dead-lettered by contactsync alone).
func TestPostIDsFollowTheSharedRule(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs := env.NewTaggedLocation(t, "Launch")
	startWorker(t, env)
	cases := bustest.PostCases(loc, []string{tagIDs["Launch"]}, nil, time.Now())
	for _, c := range cases {
		if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.PostTriggers, loc), c.Event); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 10*time.Second, "triggers handled", func() bool {
		return bustest.Quiet(t, env.JS, topology.StreamTriggers, topology.DurableEnricher)
	})
	var want []string
	for _, c := range cases {
		key, err := ids.Key(c.Event.GetSource(), c.Event.GetPostId())
		stored := false
		if err == nil {
			_, _, stored = bustest.Entry(t, env.JS, topology.BucketRelations, "post."+loc+"."+key)
		}
		switch {
		case c.Valid && (err != nil || !stored):
			t.Errorf("%s: no post record under %q (%v)", c.Name, key, err)
		case c.Valid:
			want = append(want, key)
		case err == nil && stored:
			t.Errorf("%s: refused input was stored under %q", c.Name, key)
		}
	}
	data, _, _ := bustest.Entry(t, env.JS, topology.BucketRelations, "tagposts."+loc+"."+tagIDs["Launch"])
	var listed struct {
		PostIDs []string `json:"postIds"`
	}
	_ = json.Unmarshal(data, &listed)
	if diff := cmp.Diff(want, listed.PostIDs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("tag's posts (-want +got):\n%s", diff)
	}
	// Refused input is dead-lettered once, by contactsync (the owner of
	// post triggers); the enricher acks it and counts it.
	if dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.enricher."+loc); len(dls) != 0 {
		t.Errorf("the enricher wrote %d dead letters, want none (contactsync owns post triggers): %+v", len(dls), dls)
	}
}

// With the mirror on, a deleted or renamed social tag's location tag goes
// when the enricher created it and no contact carries it: the renamed
// tag's new name stays, a location tag someone else created stays, and
// one a contact still carries a while after the change stays too.
func TestMirrorDeletesOnlyItsOwnUncarriedTags(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, ids := env.NewTaggedLocation(t, "Promo", "Launch", "Tips", "Hot")
	// Someone tagged a contact social:tips before socialsync mirrored:
	// that location tag is not the enricher's.
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": "T", "tags": []string{"social:tips"}}, nil)
	startWorker(t, env, mirrorOn)
	requestDetails(t, env, loc, []string{ids["Promo"], ids["Launch"], ids["Tips"], ids["Hot"]}, "r1")
	fleettest.Eventually(t, 10*time.Second, "tags mirrored", func() bool { return len(locationTags(t, env, loc)) == 4 })
	// A contact gets social:hot after the mirror created it.
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": "H", "tags": []string{"social:hot"}}, nil)

	env.Admin(t, "PUT", "/_sandbox/locations/"+loc+"/socialTags/"+ids["Launch"], map[string]any{"tag": "Big Launch"}, nil)
	requestDetails(t, env, loc, []string{ids["Launch"]}, "r2") // as the fetcher asks for a renamed tag's
	fleettest.Eventually(t, 10*time.Second, "the new name mirrored", func() bool {
		return slices.Contains(locationTags(t, env, loc), "social:big launch")
	})
	publish := func(tag, name, previous string, c socialsyncv1.Change, at time.Time) {
		t.Helper()
		ev := &socialsyncv1.TagChanged{LocationId: loc, TagId: tag, TagName: name, PreviousName: previous, Change: c, Timestamp: timestamppb.New(at)}
		if _, err := env.Deps.Publisher.Publish(context.Background(), subject(t, topology.TagEvents, loc), ev); err != nil {
			t.Fatal(err)
		}
	}
	publish(ids["Promo"], "Promo", "", socialsyncv1.Change_CHANGE_DELETED, time.Now())
	publish(ids["Tips"], "Tips", "", socialsyncv1.Change_CHANGE_DELETED, time.Now())
	publish(ids["Launch"], "Big Launch", "Launch", socialsyncv1.Change_CHANGE_RENAMED, time.Now())
	// Long enough ago that the enricher no longer waits for the contact
	// to lose it.
	publish(ids["Hot"], "Hot", "", socialsyncv1.Change_CHANGE_DELETED, time.Now().Add(-enricher.UnmirrorWait-time.Minute))

	want := []string{"social:big launch", "social:hot", "social:tips"}
	fleettest.Eventually(t, 20*time.Second, "the enricher's uncarried tags deleted", func() bool {
		got := slices.Clone(locationTags(t, env, loc))
		slices.Sort(got)
		return slices.Equal(got, want)
	})
	deletes := 0
	for _, r := range env.Requests(t, loc) {
		if r.Method == "DELETE" && strings.HasPrefix(r.Path, "/locations/"+loc+"/tags/") {
			deletes++
		}
	}
	if deletes != 2 {
		t.Errorf("%d location tags deleted, want 2 (promo, launch)", deletes)
	}
	fleettest.Eventually(t, 10*time.Second, "records of handled tags forgotten", func() bool {
		for _, tag := range []string{ids["Promo"], ids["Hot"]} {
			if _, _, ok := bustest.Entry(t, env.JS, topology.BucketRelations, relkeys.MirroredTagsKey(loc, tag)); ok {
				return false
			}
		}
		return true
	})
}
