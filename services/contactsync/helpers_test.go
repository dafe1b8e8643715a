package contactsync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	pkgids "github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// startWorker runs the worker until the test ends, and checks that its
// route returns nil on shutdown.
func startWorker(t testing.TB, env *fleettest.Env, change ...func(*contactsync.Config)) {
	t.Helper()
	startHookedWorker(t, env, nil, change...)
}

// startHookedWorker is startWorker with hook applied to the worker before
// it runs; stop stops it.
func startHookedWorker(t testing.TB, env *fleettest.Env, hook func(*contactsync.Worker), change ...func(*contactsync.Config)) (stop func()) {
	t.Helper()
	cfg := contactsync.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}
	for _, c := range change {
		c(&cfg)
	}
	stores, err := contactsync.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := contactsync.New(cfg, contactsync.Deps{Publisher: env.Deps.Publisher, Pacer: env.Deps.Governor,
		Client:     func(loc string) contactsync.Client { return env.Deps.Client(loc) },
		Catalogues: stores.Catalogues, Details: stores.Details, Relations: stores.Relations, ContactRefs: stores.ContactRefs, Mappings: stores.Mappings,
		States: stores.States, Locations: env.Deps.Creds, DeadLetters: stores.DeadLetters, Purge: stores.Purge, Meter: env.Deps.Telemetry.MeterProvider(), Log: env.Deps.Log})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(w)
	}
	return env.RunWorker(t, "contactsync", w)
}

// liveTags returns the first n tags that are not deleted.
func liveTags(t *testing.T, l ghlsim.LocationView, n int) []ghlsim.TagView {
	t.Helper()
	var out []ghlsim.TagView
	for _, tg := range l.SocialTags {
		if !tg.Deleted && len(out) < n {
			out = append(out, tg)
		}
	}
	if len(out) < n {
		t.Fatalf("only %d live tags", len(out))
	}
	return out
}

// newContacts creates n contacts of loc in the simulator, named name0,
// name1, …, and returns their ids.
func newContacts(t *testing.T, env *fleettest.Env, loc, name string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		var c struct{ ID string }
		env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": fmt.Sprintf("%s%d", name, i)}, &c)
		ids = append(ids, c.ID)
	}
	return ids
}

// primeCatalogue stores the tag catalogue of loc as the fetcher would,
// fetched now.
func primeCatalogue(t *testing.T, env *fleettest.Env, loc string, tags []ghlsim.TagView) {
	t.Helper()
	storeCatalogue(t, env, loc, tags, nil, time.Now())
}

// storeCatalogue stores loc's catalogue as the fetcher would: the live
// tags of tags, tombstones for deleted, fetched at fetchedAt.
func storeCatalogue(t testing.TB, env *fleettest.Env, loc string, tags, deleted []ghlsim.TagView, fetchedAt time.Time) {
	t.Helper()
	type entry struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	c := struct {
		Tags      []entry   `json:"tags"`
		Deleted   []entry   `json:"deleted,omitempty"`
		FetchedAt time.Time `json:"fetchedAt"`
	}{Tags: []entry{}, FetchedAt: fetchedAt.UTC()}
	for _, tg := range tags {
		if !tg.Deleted {
			c.Tags = append(c.Tags, entry{ID: tg.ID, Name: tg.Tag})
		}
	}
	for _, tg := range deleted {
		c.Deleted = append(c.Deleted, entry{ID: tg.ID, Name: tg.Tag})
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), loc, data); err != nil {
		t.Fatal(err)
	}
}

// contactTags, hasTag and waitTags are fleettest's.
func contactTags(t *testing.T, env *fleettest.Env, loc, contact string) []string {
	t.Helper()
	return env.ContactTags(t, loc, contact)
}

func hasTag(tags []string, tag string) bool { return fleettest.HasTag(tags, tag) }

// social returns the contact tag standing for a social tag.
func social(tg ghlsim.TagView) string { return "social:" + strings.ToLower(tg.Tag) }

// waitTags waits until each contact has every tag of want and none of
// gone.
func waitTags(t *testing.T, env *fleettest.Env, loc string, contacts []string, want, gone []string) {
	t.Helper()
	env.WaitTags(t, loc, contacts, want, gone)
}

// tagWrites returns loc's contact tag calls: single (POST or DELETE
// /contacts/{id}/tags) and bulk ones.
func tagWrites(t *testing.T, env *fleettest.Env, loc string) (single, bulkAdd, bulkRemove int) {
	t.Helper()
	for _, r := range env.Requests(t, loc) {
		switch {
		case strings.HasPrefix(r.Path, "/contacts/bulk/tags/update/add"):
			bulkAdd++
		case strings.HasPrefix(r.Path, "/contacts/bulk/tags/update/remove"):
			bulkRemove++
		case strings.HasPrefix(r.Path, "/contacts/") && strings.HasSuffix(r.Path, "/tags") && (r.Method == "POST" || r.Method == "DELETE"):
			single++
		}
	}
	return single, bulkAdd, bulkRemove
}

// publish sends a post event through the Publisher and returns its
// stream sequence.
func publish(t testing.TB, env *fleettest.Env, ev *socialsyncv1.PostEvent) uint64 {
	t.Helper()
	subject, err := topology.PostTriggers.Subject(ev.GetLocationId())
	if err != nil {
		t.Fatal(err)
	}
	ack, err := env.Deps.Publisher.Publish(context.Background(), subject, ev)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// waitHandled waits until contactsync has acknowledged (or terminated)
// every post trigger up to stream sequence seq.
func waitHandled(t *testing.T, env *fleettest.Env, seq uint64) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "trigger handled", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync).AckFloor.Stream >= seq
	})
}

// contactEvents returns the ContactTagsChanged events of loc.
func contactEvents(t *testing.T, env *fleettest.Env, loc string) []*socialsyncv1.ContactTagsChanged {
	t.Helper()
	var out []*socialsyncv1.ContactTagsChanged
	for _, m := range bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.contact."+loc) {
		var ev socialsyncv1.ContactTagsChanged
		if err := bus.Unmarshal(m.Header, m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, &ev)
	}
	return out
}

// createPost creates a post carrying tags in the simulator.
func createPost(t *testing.T, env *fleettest.Env, loc string, tags ...ghlsim.TagView) string {
	t.Helper()
	ids := []string{}
	for _, tg := range tags {
		ids = append(ids, tg.ID)
	}
	var p struct {
		ID string `json:"_id"`
	}
	env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": ids}, &p)
	return p.ID
}

func ids(tags ...ghlsim.TagView) []string {
	var out []string
	for _, tg := range tags {
		out = append(out, tg.ID)
	}
	return out
}

// publishRaw publishes data to subject with headers (name, value pairs), as
// `nats pub` would, and returns its stream sequence.
func publishRaw(t *testing.T, env *fleettest.Env, subject string, data []byte, header ...string) uint64 {
	t.Helper()
	return bustest.PublishRaw(t, env.JS, subject, data, header...).Sequence
}

// postKey is the key part of a post of the default source, as the
// enricher and contactsync key their records (ids.Key).
func postKey(t testing.TB, id string) string {
	t.Helper()
	k, err := pkgids.Key("", id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// tagsConsumers counts the consumers on the catalogues' bucket: the
// handlers' watches for a catalogue.
func tagsConsumers(t *testing.T, env *fleettest.Env) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := env.JS.Stream(ctx, "KV_"+topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}
