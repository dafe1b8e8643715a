package contactsync_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync"
)

// A changed contact-tag template reaches every contact socialsync tagged:
// each loses the tags socialsync applied under the old names and gains
// them under the new ones, while tags it did not apply (added by hand,
// even when they look like socialsync's) stay. A run stopped mid-way by a
// restart goes on from its cursor; a template changed again during a run
// makes it start over towards the newest.
func TestRemap(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "Launch", "Sale")
	l := env.Location(t, loc)
	tags := liveTags(t, l, 2)
	launch, sale := tags[0], tags[1]
	primeCatalogue(t, env, loc, l.SocialTags)
	var contacts []string
	for range 4 {
		var c ghlsim.ContactView
		env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{}, &c)
		contacts = append(contacts, c.ID)
	}
	stranger := contacts[3]
	// HighLevel's webhook reports every write back: none may be read as
	// a hand edit.
	relayWebhooks(t, env)
	tagged := slices.Sorted(slices.Values(contacts[:3]))
	// The worker fails the second contact of the run while failing is set,
	// as a crash between its writes and its stored state would.
	var failing atomic.Bool
	hook := func(w *contactsync.Worker) {
		contactsync.SetRemapChunk(w, 1)
		contactsync.FailBeforeCommit(w, func(c string) error {
			if failing.Load() && c == tagged[1] {
				return errors.New("crash")
			}
			return nil
		})
	}
	stop := startHookedWorker(t, env, hook)
	ctx := context.Background()
	client := env.Deps.Client(loc)

	p := createPost(t, env, loc, launch, sale)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p, TagIds: ids(launch, sale), ContactIds: contacts[:3], EventId: "e1"})
	waitTags(t, env, loc, tagged, []string{social(launch), social(sale)}, nil)
	// By hand: vip on a tagged contact, a socialsync-looking tag on one it
	// never tagged.
	if _, err := client.AddContactTags(ctx, tagged[0], []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.AddContactTags(ctx, stranger, []string{social(sale)}); err != nil {
		t.Fatal(err)
	}

	failing.Store(true)
	setTemplate(t, env, loc, "sp-{{tagName}}")
	requestRemap(t, env, loc)
	run := waitRemap(t, env, loc, "the run stopped at the second contact", func(r relations.RemapRun) bool {
		return r.Template == "sp-{{tagName}}" && r.Cursor == 1 && r.State == relations.RemapRunning
	})
	if run.Total != 3 || run.Done() != 1 {
		t.Errorf("run mid-way: %+v; want 1 of 3 done", run)
	}
	// A restart: a new worker goes on from the cursor.
	stop()
	failing.Store(false)
	stop = startHookedWorker(t, env, hook)
	done := waitRemap(t, env, loc, "the run done", func(r relations.RemapRun) bool {
		return r.Template == "sp-{{tagName}}" && r.State == relations.RemapDone
	})
	if done.Restarts != 0 || !done.StartedAt.Equal(run.StartedAt) || done.Done() != 3 || done.Changed != 3 {
		t.Errorf("run after the restart: %+v; want the same run, 3 of 3 changed", done)
	}
	waitTags(t, env, loc, tagged, []string{"sp-" + strings.ToLower(launch.Tag), "sp-" + strings.ToLower(sale.Tag)}, []string{social(launch), social(sale)})
	if got := contactTags(t, env, loc, tagged[0]); !hasTag(got, "vip") {
		t.Errorf("%s lost the tag added by hand: %v", tagged[0], got)
	}
	if got := contactTags(t, env, loc, stranger); !hasTag(got, social(sale)) || hasTag(got, "sp-"+strings.ToLower(sale.Tag)) {
		t.Errorf("the contact socialsync never tagged was touched: %v", got)
	}
	var st relations.ContactState
	readJSON(t, env, relations.ContactKey(loc, tagged[2]), &st)
	if want := []string{"sp-" + strings.ToLower(launch.Tag), "sp-" + strings.ToLower(sale.Tag)}; !slices.Equal(st.Applied, want) {
		t.Errorf("state of %s: applied %v, want %v", tagged[2], st.Applied, want)
	}
	// The same request again writes nothing.
	before := len(env.Requests(t, loc))
	requestRemap(t, env, loc)
	waitRemapHandled(t, env)
	if after := len(env.Requests(t, loc)); after != before {
		t.Errorf("a repeated request made %d HighLevel calls", after-before)
	}

	// Changed twice, the second time during the run: the run re-targets.
	failing.Store(true)
	setTemplate(t, env, loc, "tw-{{tagName}}")
	requestRemap(t, env, loc)
	waitRemap(t, env, loc, "the tw- run stopped at the second contact", func(r relations.RemapRun) bool {
		return r.Template == "tw-{{tagName}}" && r.Cursor == 1
	})
	setTemplate(t, env, loc, "ig-{{tagName}}")
	requestRemap(t, env, loc)
	failing.Store(false)
	done = waitRemap(t, env, loc, "the ig- run done", func(r relations.RemapRun) bool {
		return r.Template == "ig-{{tagName}}" && r.State == relations.RemapDone
	})
	if done.Restarts != 1 {
		t.Errorf("superseded run: %+v; want 1 restart", done)
	}
	var gone []string
	for _, pre := range []string{"sp-", "tw-", "social:"} {
		gone = append(gone, pre+strings.ToLower(launch.Tag), pre+strings.ToLower(sale.Tag))
	}
	waitTags(t, env, loc, tagged, []string{"ig-" + strings.ToLower(launch.Tag), "ig-" + strings.ToLower(sale.Tag)}, gone)
	fleettest.Eventually(t, 30*time.Second, "HighLevel's webhooks handled", func() bool {
		info := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableHighLevelContacts)
		return info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
	})
	for _, c := range tagged {
		if st, _ := contactState(t, env, loc, c); len(st.Removed) > 0 || len(st.Applied) != 2 {
			t.Errorf("state of %s after the webhooks: applied %v, removed by hand %v", c, st.Applied, st.Removed)
		}
	}
	waitTags(t, env, loc, tagged, []string{"ig-" + strings.ToLower(launch.Tag), "ig-" + strings.ToLower(sale.Tag)}, gone)
	stop()
}

// setTemplate stores loc's mapping with the contact-tag template tmpl.
func setTemplate(t *testing.T, env *fleettest.Env, loc, tmpl string) {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: tmpl}); err != nil {
		t.Fatal(err)
	}
}

// requestRemap asks for loc's template to be applied again, as saving a
// mapping does.
func requestRemap(t *testing.T, env *fleettest.Env, loc string) {
	t.Helper()
	subject, err := topology.RemapTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.RemapRequested{LocationId: loc, RequestedBy: "test", RequestedAt: timestamppb.Now()}); err != nil {
		t.Fatal(err)
	}
}

// waitRemap waits until loc's remap record satisfies cond and returns it.
func waitRemap(t *testing.T, env *fleettest.Env, loc, what string, cond func(relations.RemapRun) bool) relations.RemapRun {
	t.Helper()
	var run relations.RemapRun
	fleettest.Eventually(t, 30*time.Second, what, func() bool {
		run = relations.RemapRun{}
		readJSON(t, env, relations.RemapKey(loc), &run)
		return cond(run)
	})
	return run
}

// waitRemapHandled waits until every remap request was acknowledged.
func waitRemapHandled(t *testing.T, env *fleettest.Env) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "remap requests handled", func() bool {
		info := bustest.ConsumerInfo(t, env.JS, topology.StreamTriggers, topology.DurableRemap)
		return info.NumPending == 0 && info.NumAckPending == 0
	})
}

// A contact's dead letter of a renaming, replayed, renames that contact
// only and leaves the run's record alone.
func TestRemapReplayedContact(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, _ := env.NewTaggedLocation(t, "Launch")
	l := env.Location(t, loc)
	launch := liveTags(t, l, 1)[0]
	primeCatalogue(t, env, loc, l.SocialTags)
	var contacts []string
	for range 2 {
		var c ghlsim.ContactView
		env.Admin(t, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{}, &c)
		contacts = append(contacts, c.ID)
	}
	startWorker(t, env)
	p := createPost(t, env, loc, launch)
	publish(t, env, &socialsyncv1.PostEvent{LocationId: loc, PostId: p, TagIds: ids(launch), ContactIds: contacts, EventId: "e1"})
	waitTags(t, env, loc, contacts, []string{social(launch)}, nil)

	setTemplate(t, env, loc, "sp-{{tagName}}")
	subject, err := topology.RemapTriggers.Subject(loc)
	if err != nil {
		t.Fatal(err)
	}
	data := bustest.Marshal(t, &socialsyncv1.RemapRequested{LocationId: loc, RequestedBy: "replay", RequestedAt: timestamppb.Now()})
	publishRaw(t, env, subject, data, bus.HeaderReplayItem, "contact "+contacts[0])
	waitTags(t, env, loc, contacts[:1], []string{"sp-" + strings.ToLower(launch.Tag)}, []string{social(launch)})
	waitRemapHandled(t, env)
	if got := contactTags(t, env, loc, contacts[1]); !hasTag(got, social(launch)) {
		t.Errorf("the other contact was renamed too: %v", got)
	}
	var run relations.RemapRun
	if readJSON(t, env, relations.RemapKey(loc), &run); run.Template != "" {
		t.Errorf("a replayed contact stored a run: %+v", run)
	}
}
