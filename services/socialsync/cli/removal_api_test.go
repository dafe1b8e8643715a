package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

// DELETE /v1/locations/{loc}?purge=true&purgeData=true through the
// gateway, run by the stats worker on real JetStream against the
// simulator: a key without the admin scope is refused; the purge goes on
// after the cursor of one that stopped half way (its contacts are not
// written again); then no socialsync tag or custom value is left in
// HighLevel, the location's tokens, settings, state, history and reports
// are gone, GET .../removal says removed, and the audit log holds the
// removal by the key. The same request delivered again finishes without
// a call to HighLevel.
func TestAPIRemovalPurges(t *testing.T) {
	env := fleettest.Start(t, "demo")
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
	settingsKV := bucket(t, env, topology.BucketSettings)
	for i, c := range contacts {
		applied := []string{"social:api-" + string(rune('a'+i))}
		if _, err := client.AddContactTags(ctx, c, append(slices.Clone(applied), "segment:fans", "vip")); err != nil {
			t.Fatal(err)
		}
		putJSON(t, rel, relations.ContactKey(loc.ID, c), relations.ContactState{Applied: applied})
		putJSON(t, segs, automation.MemberKey(loc.ID, c), automation.Members{Segments: []string{"fans"}})
	}
	if _, err := client.CreateCustomValue(ctx, loc.ID, "socialsync_best_platforms", "x"); err != nil {
		t.Fatal(err)
	}
	putJSON(t, rel, relations.WrittenValuesKey(loc.ID), relations.WrittenValues{Names: []string{"socialsync_best_platforms"}})
	putJSON(t, history, report.HistoryKey(loc.ID, "2026-03-01"), map[string]any{"day": "2026-03-01"})
	putJSON(t, settingsKV, "stats."+loc.ID, map[string]any{"cron": "@daily"})
	// A purge that stopped after its first two contacts (a crash), whose
	// tags are gone.
	for i, c := range contacts[:2] {
		if _, err := client.RemoveContactTags(ctx, c, []string{"social:api-" + string(rune('a'+i)), "segment:fans"}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	putJSON(t, rel, relations.PurgeKey(loc.ID), relations.PurgeRun{State: relations.PurgeRunning, StartedAt: start, UpdatedAt: start,
		Contacts: len(contacts), Done: 2, Cursor: contacts[1], Tags: 4})

	components, err := Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range components {
		fleettest.Run(t, c.Run)
	}
	const admin, reader = "sk-admin-0123456789abcdef", "sk-reader-0123456789abcdef"
	g, err := gateway.New(gateway.Config{Config: env.Deps.Config,
		APIKeyHashes:    gateway.HashAPIKey(admin) + "\n" + gateway.HashAPIKey(reader) + ":read+trigger+definitions+deadletters",
		WebhookMaxBytes: 65536, WebhookTolerance: 5 * time.Minute, PublishTimeout: 5 * time.Second,
		BodyTimeout: 10 * time.Second, MaxSSEClients: 10, OAuthTimeout: 20 * time.Second}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	call := func(method, path, key string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	before := len(env.Requests(t, loc.ID))

	path := "/v1/locations/" + loc.ID
	if status, body := call("DELETE", path+"?purge=true", reader); status != 403 || !strings.Contains(string(body), "admin") {
		t.Fatalf("a key without the admin scope: %d %s", status, body)
	}
	if _, err := env.Deps.Directory.Location(ctx, loc.ID); err != nil {
		t.Fatalf("the refused request removed the location: %v", err)
	}
	status, body := call("DELETE", path+"?purge=true&purgeData=true", admin)
	if status != 202 {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	var accepted struct{ By, Follow string }
	if err := json.Unmarshal(body, &accepted); err != nil {
		t.Fatal(err)
	}
	var got struct {
		State, By, Detail string
		Purge, PurgeData  bool
	}
	fleettest.Eventually(t, 90*time.Second, "the removal done", func() bool {
		status, body := call("GET", accepted.Follow, reader)
		return status == 200 && json.Unmarshal(body, &got) == nil && got.State == "removed"
	})
	if !got.Purge || !got.PurgeData || got.By != accepted.By || !strings.HasPrefix(got.By, "key:") {
		t.Errorf("removal done: %+v", got)
	}

	for _, r := range env.Requests(t, loc.ID)[before:] {
		for _, c := range contacts[:2] {
			if strings.Contains(r.Path, c) || slices.ContainsFunc(r.TagWrites, func(w fleettest.TagWrite) bool { return w.ContactID == c }) {
				t.Errorf("the purge going on wrote %s again: %s %s", c, r.Method, r.Path)
			}
		}
	}
	for _, c := range contacts {
		tags := env.ContactTags(t, loc.ID, c)
		for _, tag := range tags {
			if strings.HasPrefix(tag, "social:") || strings.HasPrefix(tag, "segment:") {
				t.Errorf("contact %s still carries %q", c, tag)
			}
		}
		if !fleettest.HasTag(tags, "vip") {
			t.Errorf("contact %s lost a tag socialsync never applied: %v", c, tags)
		}
	}
	values, err := client.CustomValues(ctx, loc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, cv := range values {
		if strings.HasPrefix(cv.Name, "socialsync_") {
			t.Errorf("custom value %q left", cv.Name)
		}
	}
	for name, kv := range map[string]jetstream.KeyValue{"relations": rel, "segments": segs, "history": history, "settings": settingsKV,
		"tokens": bucket(t, env, topology.BucketTokens), "locations": bucket(t, env, topology.BucketLocations)} {
		if keys, err := kv.ListKeysFiltered(ctx, ">"); err == nil {
			for k := range keys.Keys() {
				if strings.Contains(k, loc.ID) {
					t.Errorf("%s still holds %s", name, k)
				}
			}
		}
	}
	entries, _, err := audit.New(env.JS, nil).List(ctx, audit.Filter{Location: loc.ID, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, e := range entries {
		if e.Action == audit.ActionRemove && e.Who == accepted.By && strings.Contains(e.Detail, "tags purged") {
			done++
		}
	}
	if done != 1 {
		t.Errorf("audit log: %+v; want one removal done by %s", entries, accepted.By)
	}

	// The same request again, as a redelivery would bring it: it
	// finishes, acknowledged, with no call to HighLevel.
	calls := len(env.Requests(t, loc.ID))
	subject, _ := topology.RemoveTriggers.Subject(loc.ID)
	ack, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.RemovalRequested{LocationId: loc.ID, Purge: true, PurgeData: true,
		RequestedBy: accepted.By})
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 60*time.Second, "the request again acknowledged", func() bool {
		c, err := env.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableRemove)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream >= ack.Sequence
	})
	if n := len(env.Requests(t, loc.ID)); n != calls {
		t.Errorf("a removal delivered again called HighLevel %d times", n-calls)
	}
	if _, n, err := bus.CountDeadLetters(ctx, env.JS, "socialsync.dlq.remove.>"); err != nil || n != 0 {
		t.Errorf("dead letters of the removals: %d, %v", n, err)
	}
}
