package automationworker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	pkgids "github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/relations/revision"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

// startWorker runs the worker until the test ends (RunWorker checks that
// its routes and loops return nil on shutdown).
func startWorker(t *testing.T, env *fleettest.Env, change ...func(*automationworker.Config)) {
	t.Helper()
	cfg := automationworker.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2}
	for _, c := range change {
		c(&cfg)
	}
	w, err := automationworker.New(cfg, deps(t, env))
	if err != nil {
		t.Fatal(err)
	}
	env.RunWorker(t, "automation", w)
}

// deps are the worker's dependencies on env, as its main wires them.
func deps(t *testing.T, env *fleettest.Env) automationworker.Deps {
	t.Helper()
	s, err := automationworker.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return automationworker.Deps{Publisher: env.Deps.Publisher, Locations: env.Deps.Creds,
		Client:   func(loc string) automationworker.Client { return env.Deps.Client(loc) },
		Segments: s.Segments, Relations: s.Relations, Runs: s.Runs, SegmentDefs: s.SegmentDefs, Workflows: s.Workflows, Mappings: s.Mappings,
		Outbox: s.Outbox, DeadLetters: s.DeadLetters, Meter: env.Deps.Telemetry.MeterProvider(), Log: env.Deps.Log}
}

// contactTags, hasTag and waitTags are fleettest's.
func contactTags(t *testing.T, env *fleettest.Env, loc, contact string) []string {
	t.Helper()
	return env.ContactTags(t, loc, contact)
}

func hasTag(tags []string, tag string) bool { return fleettest.HasTag(tags, tag) }

// waitTags waits until each contact has every tag of want and none of
// gone: segment membership follows contact tags, eventually.
func waitTags(t *testing.T, env *fleettest.Env, loc string, contacts []string, want, gone []string) {
	t.Helper()
	env.WaitTags(t, loc, contacts, want, gone)
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

// tagPost does what contactsync does when it handles a post event: it
// stores the state of each contact (the post now carries the social tags
// names, or, with names nil, no longer concerns the contact) and publishes
// each contact's ContactTagsChanged. It returns the last event's stream
// sequence.
func tagPost(t *testing.T, env *fleettest.Env, loc, post string, names []string, at time.Time, contacts ...string) uint64 {
	t.Helper()
	return tagPostAs(t, env, loc, "social:", post, names, at, contacts...)
}

// tagPostAs is tagPost in a location whose contact tags are the social
// tags' names after prefix.
func tagPostAs(t *testing.T, env *fleettest.Env, loc, prefix, post string, names []string, at time.Time, contacts ...string) uint64 {
	t.Helper()
	ctx := context.Background()
	kv, err := env.JS.KeyValue(ctx, topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	key := postKey(t, post)
	var seq uint64
	for _, c := range contacts {
		if _, err := revision.Update(ctx, kv, relations.ContactKey(loc, c), func(st *relations.ContactState, _ bool) error {
			if st.Posts == nil {
				st.Posts = map[string][]string{}
			}
			if names == nil {
				delete(st.Posts, key)
			} else {
				st.Posts[key] = names
			}
			applied := map[string]bool{}
			for _, ns := range st.Posts {
				for _, n := range ns {
					applied[contacttags.ContactTag(prefix, n)] = true
				}
			}
			st.Applied = contacttags.Sorted(applied)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		seq = publishEvent(t, env, topology.ContactEvents, loc, &socialsyncv1.ContactTagsChanged{LocationId: loc, ContactId: c,
			Reason: "post " + post, PostKey: key, PostOccurredAt: timestamppb.New(at), Timestamp: timestamppb.Now()})
	}
	return seq
}

// waitContactsHandled waits until the segments durable on the events
// stream has acked everything up to stream sequence seq.
func waitContactsHandled(t *testing.T, env *fleettest.Env, seq uint64) {
	t.Helper()
	fleettest.Eventually(t, 30*time.Second, "contact event handled", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamEvents, topology.DurableSegments).AckFloor.Stream >= seq
	})
}

// primePost stores a post's record as the enricher does, dated at.
func primePost(t *testing.T, env *fleettest.Env, loc, post string, tagIDs []string, at time.Time) {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"tagIds": tagIDs, "updatedAt": at.UTC()})
	if _, err := kv.Put(context.Background(), relations.PostKey(loc, postKey(t, post)), data); err != nil {
		t.Fatal(err)
	}
}
