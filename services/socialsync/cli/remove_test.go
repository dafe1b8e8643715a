package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats"
)

// `locations remove --purge` removes from HighLevel exactly the contact
// tags and segment tags socialsync's records say it applied (a tag that
// only looks like one of socialsync's stays), going on after the cursor of
// a purge that stopped half way; then the location's records are gone
// from every store but its statistics history, and the audit log says so.
func TestRemovePurgeResumes(t *testing.T) {
	env := fleettest.Start(t, "demo")
	t.Setenv("SOCIALSYNC_TOKEN_KEY", env.Deps.Config.TokenKey)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", env.SimURL)
	ctx := context.Background()
	loc := env.Locations[0]
	contacts := env.LiveContacts(t, loc.ID, 6)
	slices.Sort(contacts)
	gc, err := ghl.New(ghl.Options{BaseURL: env.SimURL})
	if err != nil {
		t.Fatal(err)
	}
	client := gc.ForLocation(loc.ID, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: loc.Token}))
	rel := bucket(t, env, topology.BucketRelations)
	segs := bucket(t, env, topology.BucketSegments)
	history := bucket(t, env, topology.BucketStatsHistory)
	for i, c := range contacts {
		// Each contact its own tag, so that each is a call of its own.
		applied := []string{"social:launch-" + string(rune('a'+i))}
		if _, err := client.AddContactTags(ctx, c, append(slices.Clone(applied), "segment:fans", "social:by-hand", "vip")); err != nil {
			t.Fatal(err)
		}
		putJSON(t, rel, relations.ContactKey(loc.ID, c), relations.ContactState{Applied: applied, Posts: map[string][]string{"p1": {"launch"}}})
		putJSON(t, segs, automation.MemberKey(loc.ID, c), automation.Members{Segments: []string{"fans"}})
	}
	putJSON(t, history, report.HistoryKey(loc.ID, "2026-03-01"), map[string]any{"day": "2026-03-01"})
	// Custom values: the one socialsync's record names goes; one that only
	// looks like socialsync's, and the location's own, stay.
	for _, name := range []string{"socialsync_best_platforms", "socialsync_unrecorded", "Opening hours"} {
		if _, err := client.CreateCustomValue(ctx, loc.ID, name, "x"); err != nil {
			t.Fatal(err)
		}
	}
	putJSON(t, rel, relations.WrittenValuesKey(loc.ID), relations.WrittenValues{Names: []string{"socialsync_best_platforms"}})
	// A cached contact reference and its reverse index, as contactsync keeps them.
	refs := bucket(t, env, topology.BucketContactRefs)
	putJSON(t, refs, loc.ID+".c2lnbmVkLWhhc2g", map[string]any{"contact": contacts[0]})
	putJSON(t, refs, loc.ID+".contact."+contacts[0], map[string]any{"keys": []string{loc.ID + ".c2lnbmVkLWhhc2g"}})
	// A purge stopped after the first two contacts, whose tags are gone.
	for _, c := range contacts[:2] {
		if _, err := client.RemoveContactTags(ctx, c, []string{"social:launch-" + string(rune('a'+slices.Index(contacts, c))), "segment:fans"}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	putJSON(t, rel, relations.PurgeKey(loc.ID), relations.PurgeRun{State: relations.PurgeRunning, StartedAt: start, UpdatedAt: start,
		Contacts: len(contacts), Done: 2, Cursor: contacts[1], Tags: 4})
	before := len(env.Requests(t, loc.ID))
	// A trigger held for it: a dead letter to be, once it is removed.
	subject, err := topology.StatsTriggers.Subject(loc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: loc.ID, RequestedBy: "held"}); err != nil {
		t.Fatal(err)
	}

	var out, errOut bytes.Buffer
	cli := &Env{Stdout: &out, Stderr: &errOut, Log: slog.New(slog.NewTextHandler(&errOut, nil)), Now: time.Now}
	if code := mainEnv(ctx, cli, []string{"locations", "remove", "--nats", env.URL(), "--location", loc.ID, "--purge"}); code != 0 {
		t.Fatalf("remove --purge: exit %d: %s%s", code, out.String(), errOut.String())
	}
	t.Logf("remove --purge:\n%s", out.String())
	if !strings.Contains(out.String(), "going on from contact 2 of 6") || !strings.Contains(out.String(), "1 custom values deleted") {
		t.Errorf("output:\n%s", out.String())
	}
	for _, r := range env.Requests(t, loc.ID)[before:] {
		for _, c := range contacts[:2] {
			if strings.Contains(r.Path, c) || slices.ContainsFunc(r.TagWrites, func(w fleettest.TagWrite) bool { return w.ContactID == c }) {
				t.Errorf("a purge going on wrote %s again: %s %s", c, r.Method, r.Path)
			}
		}
	}
	for _, c := range contacts {
		tags := env.ContactTags(t, loc.ID, c)
		for _, tag := range tags {
			if strings.HasPrefix(tag, "social:launch") || strings.HasPrefix(tag, "segment:") {
				t.Errorf("contact %s still carries %q after the purge", c, tag)
			}
		}
		if !fleettest.HasTag(tags, "vip") || !fleettest.HasTag(tags, "social:by-hand") {
			t.Errorf("contact %s lost a tag socialsync never applied: %v", c, tags)
		}
	}
	values, err := client.CustomValues(ctx, loc.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cv := range values {
		names = append(names, cv.Name)
	}
	if slices.Contains(names, "socialsync_best_platforms") || !slices.Contains(names, "socialsync_unrecorded") || !slices.Contains(names, "Opening hours") {
		t.Errorf("custom values after the purge: %v; want socialsync_best_platforms gone, the others kept", names)
	}
	for name, kv := range map[string]jetstream.KeyValue{"relations": rel, "segments": segs, "contact_refs": refs} {
		if keys, err := kv.ListKeysFiltered(ctx, ">"); err == nil {
			for k := range keys.Keys() {
				if strings.Contains(k, loc.ID) {
					t.Errorf("%s still holds %s", name, k)
				}
			}
		}
	}
	if _, err := history.Get(ctx, report.HistoryKey(loc.ID, "2026-03-01")); err != nil {
		t.Errorf("statistics history without --purge-data: %v; want it kept", err)
	}
	if _, err := env.Deps.Directory.Location(ctx, loc.ID); err == nil {
		t.Error("the location is still registered")
	}
	if n, err := topology.HeldTriggers(ctx, env.JS, loc.ID); err != nil || n != 0 {
		t.Errorf("triggers of the removed location: %d, %v; want none", n, err)
	}
	out.Reset()
	if code := mainEnv(ctx, cli, []string{"audit", "--nats", env.URL(), "--location", loc.ID}); code != 0 || !strings.Contains(out.String(), "remove") {
		t.Errorf("audit: exit %d:\n%s", code, out.String())
	}
	// Removed already: --purge-data deletes the history kept.
	out.Reset()
	if code := mainEnv(ctx, cli, []string{"locations", "remove", "--nats", env.URL(), "--location", loc.ID, "--purge-data"}); code != 0 {
		t.Fatalf("remove --purge-data: exit %d: %s", code, errOut.String())
	}
	if _, err := history.Get(ctx, report.HistoryKey(loc.ID, "2026-03-01")); err == nil {
		t.Error("statistics history kept after --purge-data")
	}
}

func bucket(t *testing.T, env *fleettest.Env, name string) jetstream.KeyValue {
	t.Helper()
	kv, err := env.JS.KeyValue(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func putJSON(t *testing.T, kv jetstream.KeyValue, key string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), key, b); err != nil {
		t.Fatal(err)
	}
}

// A purge stopped half way (here its command cancelled during its second
// step) goes on after its stored cursor when run again, and ends with no
// socialsync tag left.
func TestRemovePurgeInterruptedGoesOn(t *testing.T) {
	env := fleettest.Start(t, "demo")
	t.Setenv("SOCIALSYNC_TOKEN_KEY", env.Deps.Config.TokenKey)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", env.SimURL)
	ctx := context.Background()
	loc := env.Locations[0]
	real := env.LiveContacts(t, loc.ID, 6)
	gc, err := ghl.New(ghl.Options{BaseURL: env.SimURL})
	if err != nil {
		t.Fatal(err)
	}
	client := gc.ForLocation(loc.ID, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: loc.Token}))
	rel := bucket(t, env, topology.BucketRelations)
	// More than a step's worth of contacts, each with a tag of its own (a call
	// each); those HighLevel does not know count as gone.
	contacts := slices.Clone(real)
	for i := len(real); i < stats.PurgePage+30; i++ {
		contacts = append(contacts, fmt.Sprintf("Gone%016d", i))
	}
	for i, c := range contacts {
		tag := fmt.Sprintf("social:t%03d", i)
		if i < len(real) {
			if _, err := client.AddContactTags(ctx, c, []string{tag}); err != nil {
				t.Fatal(err)
			}
		}
		putJSON(t, rel, relations.ContactKey(loc.ID, c), relations.ContactState{Applied: []string{tag}})
	}
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"latencyMs": 50}, nil)

	// Cancelled once the first step's cursor is stored.
	w, err := rel.Watch(ctx, relations.PurgeKey(loc.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for e := range w.Updates() {
			var run relations.PurgeRun
			if e != nil && json.Unmarshal(e.Value(), &run) == nil && run.Done >= stats.PurgePage {
				cancel()
				return
			}
		}
	}()
	var out, errOut bytes.Buffer
	cli := &Env{Stdout: &out, Stderr: &errOut, Log: slog.New(slog.NewTextHandler(&errOut, nil)), Now: time.Now}
	if code := mainEnv(runCtx, cli, []string{"locations", "remove", "--nats", env.URL(), "--location", loc.ID, "--purge"}); code == 0 {
		t.Fatalf("a purge cancelled half way: exit 0: %s", out.String())
	}
	if !strings.Contains(out.String()+errOut.String(), "run the command again to go on") {
		t.Errorf("cancelled purge says:\n%s%s", out.String(), errOut.String())
	}
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{}, nil)
	out.Reset()
	errOut.Reset()
	if code := mainEnv(ctx, cli, []string{"locations", "remove", "--nats", env.URL(), "--location", loc.ID, "--purge"}); code != 0 {
		t.Fatalf("purge run again: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("going on from contact %d of %d", stats.PurgePage, len(contacts))) {
		t.Errorf("purge run again:\n%s", out.String())
	}
	for _, c := range real {
		for _, tag := range env.ContactTags(t, loc.ID, c) {
			if strings.HasPrefix(tag, "social:t") {
				t.Errorf("contact %s still carries %q", c, tag)
			}
		}
	}
}
