package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// pacedWorker runs contactsync with a governor of its own keeping loc to
// max requests per window (the simulator's limit too), so that a backlog
// is paced within seconds.
func pacedWorker(t *testing.T, env *fleettest.Env, max int, window time.Duration, slots int, hook func(*contactsync.Worker)) {
	t.Helper()
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": max, "window": window.String()}}, nil)
	ctx := context.Background()
	gov, err := ratelimit.Open(ctx, env.JS, ratelimit.Config{Max: max, Window: window, MaxDefer: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ghl.New(ghl.Options{BaseURL: env.SimURL, Limiter: gov})
	if err != nil {
		t.Fatal(err)
	}
	stores, err := contactsync.OpenStores(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := contactsync.New(contactsync.Config{Config: env.Deps.Config, Concurrency: 2, TriggerConcurrency: slots, TagPrefix: "social:", BulkMin: 2},
		contactsync.Deps{Publisher: env.Deps.Publisher, Pacer: gov,
			Client:     func(loc string) contactsync.Client { return client.ForLocation(loc, env.Deps.Creds.TokenSource(loc)) },
			Catalogues: stores.Catalogues, Details: stores.Details, Relations: stores.Relations, ContactRefs: stores.ContactRefs, Mappings: stores.Mappings,
			States: stores.States, DeadLetters: stores.DeadLetters, Purge: stores.Purge, Log: env.Deps.Log})
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(w)
	}
	env.RunWorker(t, "contactsync", w)
}

// burst is a backlog of post events on one location, each naming 1–3 of
// the location's tags and 1–4 of its contacts (fixed seed), and the
// contact tags each contact must end with.
type burst struct {
	events []*socialsyncv1.PostEvent
	want   map[string][]string
}

func newBurst(t *testing.T, loc string, tags []ghlsim.TagView, contacts []string, n int) burst {
	t.Helper()
	r := rand.New(rand.NewPCG(18, 2))
	b := burst{want: map[string][]string{}}
	for i := range n {
		ev := &socialsyncv1.PostEvent{LocationId: loc, PostId: fmt.Sprintf("burst-%03d", i)}
		picked := map[string]bool{}
		for _, j := range r.Perm(len(tags))[:1+r.IntN(3)] {
			ev.TagIds = append(ev.TagIds, tags[j].ID)
			picked[social(tags[j])] = true
		}
		for _, j := range r.Perm(len(contacts))[:1+r.IntN(4)] {
			c := contacts[j]
			ev.ContactIds = append(ev.ContactIds, c)
			for tag := range picked {
				if !slices.Contains(b.want[c], tag) {
					b.want[c] = append(b.want[c], tag)
				}
			}
		}
		b.events = append(b.events, ev)
	}
	return b
}

// socialTags returns the contact's tags that contactsync gives.
func socialTags(t *testing.T, env *fleettest.Env, loc, contact string) []string {
	t.Helper()
	var out []string
	for _, tag := range contactTags(t, env, loc, contact) {
		if strings.HasPrefix(tag, "social:") {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

// tagCallsOf counts loc's contact tag calls (single and bulk) and the
// 429s among all of loc's calls.
func tagCallsOf(t *testing.T, env *fleettest.Env, loc string) (calls, tooMany int) {
	t.Helper()
	single, add, remove := tagWrites(t, env, loc)
	for _, r := range env.Requests(t, loc) {
		if r.Status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	return single + add + remove, tooMany
}

// A backlog of 60 post events on a location paced at 5 requests per
// second: while the governor paces it, the events' contact tag writes are
// merged, far fewer calls than events, and every contact ends with
// exactly the tags of the posts that name it. A contact HighLevel deleted
// is dead-lettered alone, once per event naming it.
func TestPacedBacklogIsMerged(t *testing.T) {
	const events = 60
	env := fleettest.Start(t, "empty")
	tagNames := []string{"t0", "t1", "t2", "t3", "t4", "t5"}
	loc, _ := env.NewTaggedLocation(t, tagNames...)
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := newContacts(t, env, loc, "Burst", 30)
	gone := contacts[0]
	env.Admin(t, "DELETE", "/_sandbox/locations/"+loc+"/contacts/"+gone, nil, nil)
	b := newBurst(t, loc, l.SocialTags, contacts, events)
	naming := 0
	for _, ev := range b.events {
		if slices.Contains(ev.ContactIds, gone) {
			naming++
		}
	}
	if naming == 0 || len(b.want) < 20 {
		t.Fatalf("workload: %d events name the deleted contact, %d contacts named", naming, len(b.want))
	}
	pacedWorker(t, env, 5, time.Second, 0, nil)

	var last uint64
	for _, ev := range b.events {
		last = publish(t, env, ev)
	}
	waitHandled(t, env, last)
	for c, want := range b.want {
		if c == gone {
			continue
		}
		slices.Sort(want)
		if got := socialTags(t, env, loc, c); !slices.Equal(got, want) {
			t.Errorf("contact %s: %v, want %v", c, got, want)
		}
	}
	calls, tooMany := tagCallsOf(t, env, loc)
	t.Logf("%d post events, %d contact tag calls", events, calls)
	if calls >= events/2 {
		t.Errorf("%d contact tag calls for %d events, want fewer than %d: the writes were not merged", calls, events, events/2)
	}
	if tooMany > 0 {
		t.Errorf("%d answers 429", tooMany)
	}
	var dls int
	fleettest.Eventually(t, 20*time.Second, "dead letters of the deleted contact", func() bool {
		dls = 0
		for _, dl := range bustest.DeadLetters(t, env.JS, "") {
			if dl.Item != "contact "+gone || !strings.Contains(dl.Reason, "contact is deleted") && !strings.Contains(dl.Reason, "Contact not found") {
				t.Fatalf("unexpected dead letter %s: %s", dl.Item, dl.Reason)
			}
			dls++
		}
		return dls >= naming
	})
	if dls != naming {
		t.Errorf("%d dead letters, want %d (one per event naming the deleted contact)", dls, naming)
	}
}

// A location far over its budget, whose backlog no merging can fold (a
// tag per event), takes at most its merging places of the post trigger
// slots, never every one: another location's event is tagged within 2 s
// while the first location's backlog drains at 2 requests a second.
// Handlers beyond the places go back rather than wait in the location's
// pool.
func TestBacklogLeavesOtherLocationsTheirTurn(t *testing.T) {
	const events, slots = 24, 8
	env := fleettest.Start(t, "empty")
	names := make([]string, events)
	for i := range names {
		names[i] = fmt.Sprintf("t%02d", i)
	}
	a, _ := env.NewTaggedLocation(t, names...)
	la := env.Location(t, a)
	primeCatalogue(t, env, a, la.SocialTags)
	b, _ := env.NewTaggedLocation(t, "b0")
	lb := env.Location(t, b)
	primeCatalogue(t, env, b, lb.SocialTags)
	aContacts := newContacts(t, env, a, "A", events)
	bContact := newContacts(t, env, b, "B", 1)[0]
	pacedWorker(t, env, 2, time.Second, slots, nil)

	for i, c := range aContacts {
		publish(t, env, &socialsyncv1.PostEvent{LocationId: a, PostId: fmt.Sprintf("a-%02d", i), TagIds: []string{la.SocialTags[i].ID}, ContactIds: []string{c}})
	}
	aTagged := func() (n int) {
		for _, c := range aContacts {
			if len(socialTags(t, env, a, c)) > 0 {
				n++
			}
		}
		return n
	}
	// Two seconds of A's budget spent: its handlers hold the slots.
	fleettest.Eventually(t, 20*time.Second, "A's budget spent", func() bool { return aTagged() >= 4 })
	start := time.Now()
	publish(t, env, &socialsyncv1.PostEvent{LocationId: b, PostId: "b", TagIds: []string{lb.SocialTags[0].ID}, ContactIds: []string{bContact}})
	fleettest.Eventually(t, 30*time.Second, "B's contact tagged", func() bool { return len(socialTags(t, env, b, bContact)) == 1 })
	took := time.Since(start)
	left := events - aTagged()
	t.Logf("B's event tagged after %v; %d of A's %d contacts still untagged", took, left, events)
	if left == 0 {
		t.Fatal("A's backlog drained before B's event was tagged: the test proves nothing")
	}
	if took > 2*time.Second {
		t.Errorf("B's event took %v behind A's backlog, want within 2s", took)
	}
}

// A crash in the middle of a merged batch, after HighLevel took its
// writes and before any state is stored, redelivers every message of the
// batch: the removals HighLevel confirmed are not sent again (each
// contact loses each tag in one call), and every contact ends right.
func TestCrashMidBatchRepeatsNoRemoval(t *testing.T) {
	const events = 30
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "t0", "t1", "t2", "t3")
	l := env.Location(t, loc)
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := newContacts(t, env, loc, "Crash", 20)
	b := newBurst(t, loc, l.SocialTags, contacts, events)
	var armed atomic.Bool
	var crashed atomic.Int32
	pacedWorker(t, env, 5, time.Second, 0, func(w *contactsync.Worker) {
		contactsync.FailBeforeCommit(w, func(string) error {
			if armed.Load() {
				// Every commit fails for a moment, as if the process
				// died: each handler of the batch returns its message.
				crashed.Add(1)
				return errors.New("simulated crash before the states are stored")
			}
			return nil
		})
	})
	var last uint64
	for _, ev := range b.events {
		last = publish(t, env, ev)
	}
	waitHandled(t, env, last)

	// Every post drops its tags: removals, merged while paced; the first
	// commits fail.
	armed.Store(true)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); crashed.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		armed.Store(false)
	}()
	for _, ev := range b.events {
		last = publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: ev.PostId, ContactIds: ev.ContactIds, EventId: "drop-" + ev.PostId})
	}
	waitHandled(t, env, last)
	if crashed.Load() == 0 {
		t.Fatal("no crash was simulated")
	}
	removals := map[string]int{}
	for _, r := range env.Requests(t, loc) {
		for _, tw := range r.TagWrites {
			if tw.Op == "remove" {
				for _, tag := range tw.Tags {
					removals[tw.ContactID+" "+tag]++
				}
			}
		}
	}
	for c, want := range b.want {
		if got := socialTags(t, env, loc, c); len(got) != 0 {
			t.Errorf("contact %s still has %v", c, got)
		}
		for _, tag := range want {
			if n := removals[c+" "+tag]; n != 1 {
				t.Errorf("contact %s lost %s in %d calls, want 1", c, tag, n)
			}
		}
	}
	t.Logf("%d commits failed", crashed.Load())
}
