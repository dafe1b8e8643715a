package contactsync_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// jumpClock runs from a start at the real pace and can jump ahead.
type jumpClock struct {
	start, real time.Time
	offset      atomic.Int64
}

func (c *jumpClock) Now() time.Time {
	return c.start.Add(time.Since(c.real) + time.Duration(c.offset.Load()))
}

// A location driven to its daily cap (the simulator's lowered to 20, which
// the governor learns from X-RateLimit-Limit-Daily): past 90% of the day a
// background call is paced while the post triggers' contact tags go on;
// at the cap the remaining triggers are kept, paced, none dead-lettered,
// no 429; after the daily reset (the simulator's and the governor's clock
// moved to midnight UTC) every one of them is written.
func TestDailyCapHoldsTriggersUntilTheReset(t *testing.T) {
	const daily, phaseB = 20, 8
	clock := &jumpClock{start: time.Date(2026, time.March, 11, 23, 0, 0, 0, time.UTC), real: time.Now()}
	env := fleettest.StartAt(t, "demo", clock.Now)
	env.Admin(t, "PUT", "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"daily": daily}}, nil)
	loc := env.Locations[0].ID
	l := env.Location(t, loc)
	// A tag of its own per trigger: the writes of triggers adding the same
	// tag would be merged into one call (merge.go), and fewer calls than
	// triggers would not reach the cap.
	tags := liveTags(t, l, daily+phaseB)
	primeCatalogue(t, env, loc, l.SocialTags)
	contacts := newContacts(t, env, loc, "Capped", daily+phaseB)

	// contactsync with a governor on the moving clock, which looks at a
	// held message again every 250 ms.
	ctx := context.Background()
	gov, err := ratelimit.Open(ctx, env.JS, ratelimit.Config{Now: clock.Now, MaxDefer: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ghl.New(ghl.Options{BaseURL: env.SimURL, Limiter: gov})
	if err != nil {
		t.Fatal(err)
	}
	clientFor := func(loc string) *ghl.Client { return client.ForLocation(loc, env.Deps.Creds.TokenSource(loc)) }
	stores, err := contactsync.OpenStores(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := contactsync.New(contactsync.Config{Config: env.Deps.Config, Concurrency: 2, TagPrefix: "social:", BulkMin: 2},
		contactsync.Deps{Publisher: env.Deps.Publisher, Pacer: gov, Client: func(loc string) contactsync.Client { return clientFor(loc) },
			Catalogues: stores.Catalogues, Details: stores.Details, Relations: stores.Relations, ContactRefs: stores.ContactRefs, Mappings: stores.Mappings,
			States: stores.States, Locations: env.Deps.Creds, DeadLetters: stores.DeadLetters, Purge: stores.Purge, Log: env.Deps.Log})
	if err != nil {
		t.Fatal(err)
	}
	env.RunWorker(t, "contactsync", w)

	// A post per trigger (the simulator's admin API calls count for nothing).
	posts := make([]string, len(contacts))
	for i := range posts {
		posts[i] = createPost(t, env, loc, tags[i])
	}
	trigger := func(i int) uint64 {
		return publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: posts[i], Change: socialsyncv1.Change_CHANGE_CREATED,
			TagIds: ids(tags[i]), ContactIds: []string{contacts[i]}, EventId: fmt.Sprintf("cap%d", i)})
	}
	used := func() int64 {
		hr, err := gov.Headroom(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		return hr.DailyUsed
	}

	// Phase A: one trigger at a time, until 90% of the day is used.
	i := 0
	for ; used() < ratelimit.BackgroundDaily(daily); i++ {
		if i == daily {
			t.Fatalf("%d triggers handled, %d calls counted: the daily limit is not learned", i, used())
		}
		waitHandled(t, env, trigger(i))
	}
	var paced *ratelimit.PacedError
	bg := ghl.WithLane(ctx, ghl.LaneBackground)
	if _, err := clientFor(loc).Accounts(bg, loc); !errors.As(err, &paced) {
		t.Errorf("a background call at %d of %d calls: %v, want paced", used(), daily, err)
	}
	t.Logf("90%% of the day used after %d triggers", i)

	// Phase B: the rest at once; the cap holds them.
	var last uint64
	for j := i; j < len(contacts); j++ {
		last = trigger(j)
	}
	fleettest.Eventually(t, 30*time.Second, "the daily cap reached", func() bool { return used() >= daily })
	// The held triggers stay unacknowledged, none is dead-lettered, and
	// HighLevel saw no call past its cap.
	time.Sleep(time.Second) // time for a wrong dead letter or a call past the cap
	if floor := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableContactSync).AckFloor.Stream; floor >= last {
		t.Fatalf("every trigger acknowledged (floor %d, last %d) at the cap", floor, last)
	}
	untagged := 0
	for i, c := range contacts {
		if !hasTag(contactTags(t, env, loc, c), social(tags[i])) {
			untagged++
		}
	}
	if untagged == 0 {
		t.Fatal("every contact tagged past the daily cap")
	}
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Fatalf("dead letters at the cap: %+v", dls)
	}
	calls := len(env.Requests(t, loc))
	if calls > daily {
		t.Errorf("%d calls on the day, want at most %d", calls, daily)
	}
	hr, err := gov.Headroom(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	reset := time.Date(2026, time.March, 12, 0, 0, 0, 0, time.UTC)
	if !hr.DailyResetAt.Equal(reset) || hr.Daily != daily {
		t.Errorf("headroom: limit %d, reset at %v; want %d, %v", hr.Daily, hr.DailyResetAt, daily, reset)
	}
	t.Logf("at the cap: %d contacts held, %d calls", untagged, calls)

	// The day starts again: every held trigger is written.
	clock.offset.Add(int64(reset.Sub(clock.Now()) + time.Second))
	for i, c := range contacts {
		env.WaitTags(t, loc, []string{c}, []string{social(tags[i])}, nil)
	}
	waitHandled(t, env, last)
	if dls := bustest.DeadLetters(t, env.JS, ""); len(dls) != 0 {
		t.Errorf("dead letters: %+v", dls)
	}
	for _, r := range env.Requests(t, loc) {
		if r.Status == 429 {
			t.Errorf("a 429: %+v", r)
		}
	}
	if _, err := clientFor(loc).Accounts(bg, loc); err != nil {
		t.Errorf("a background call after the reset: %v", err)
	}
}
