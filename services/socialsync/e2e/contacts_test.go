package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
)

// TestContactsKeptInStep runs issue 16's "Done means" on real processes:
// nats-server, the simulator sending its signed webhooks, the gateway, and
// every worker (two contactsync replicas), configured only through the CLI
// and environment variables as an operator would:
//   - connecting a location fires no tag.created workflow for the tags it
//     had; a tag created later does, once;
//   - a post event naming contacts by email tags them; two events a second
//     apart naming the same new email, with a 5 s search index lag, create
//     one contact carrying both events' tags;
//   - a tag deleted and a tag renamed in Social Planner change every
//     contact carrying them; a new contact tag template renames the tags
//     socialsync gave; the webhooks of socialsync's own writes are not
//     taken for hand edits;
//   - a badly signed delivery is refused, a replayed one stored once;
//   - a contact tag removed by hand is reported by reconcile --dry-run and
//     repaired under the repair policy;
//   - an agency install connects its locations, each scheduled in its own
//     time zone.
func TestContactsKeptInStep(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	d := f.firstLocation()

	app := f.app()
	rl := &relay{}
	relaySrv := httptest.NewServer(rl)
	defer relaySrv.Close()
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": relaySrv.URL + "/v1/highlevel/webhooks", "searchIndexLag": "5s"}, nil)

	// Tags and contacts of the test's own, in the location before it is connected.
	tagID := map[string]string{}
	for _, name := range []string{"E2E Alpha", "E2E Beta", "E2E Gamma"} {
		var tag struct {
			ID string `json:"_id"`
		}
		f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/socialTags", map[string]any{"tag": name}, &tag)
		tagID[name] = tag.ID
	}
	var ann, bob ghlsim.ContactView
	f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/contacts", map[string]any{"firstName": "Ann", "email": "ann.e2e@example.com"}, &ann)
	f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/contacts", map[string]any{"firstName": "Bob", "email": "bob.e2e@example.com"}, &bob)

	f.register(d)
	dir := t.TempDir()
	mapping := func(template, policy string) {
		file := filepath.Join(dir, "mapping.yaml")
		body := fmt.Sprintf("location: %s\ncontactTag: %q\ncontacts:\n  createMissing: true\nreconcile:\n  policy: %s\n", d.ID, template, policy)
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		f.cli("mappings", "set", "--nats", f.natsURL, "-f", file, "--offline")
	}
	mapping("social:{{tagName}}", "respect")
	workflow := filepath.Join(dir, "workflows.yaml")
	if err := os.WriteFile(workflow, []byte(fmt.Sprintf(`workflows:
  - name: e2e-new-tags
    on: tag.created
    locations: [%q]
    actions:
      - publish: { subject: "e2e.tag.created" }
`, d.ID)), 0o600); err != nil {
		t.Fatal(err)
	}
	f.cli("workflows", "apply", "-f", workflow, "--nats", f.natsURL)
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	created, err := nc.SubscribeSync("e2e.tag.created")
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// OAuth for the agency install below; the gateway refuses the secret.
	f.env = append(f.env, "SOCIALSYNC_GHL_CLIENT_ID="+app.ClientID, "SOCIALSYNC_GHL_CLIENT_SECRET="+app.ClientSecret,
		"SOCIALSYNC_GHL_AUTH_URL="+f.simURL+"/oauth/chooselocation")
	key := sha256.Sum256([]byte("e2e-api-key"))
	gwURL := "http://" + f.worker("gateway", "SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY="+app.WebhookKey,
		"SOCIALSYNC_API_KEY_HASHES="+hex.EncodeToString(key[:])).addr
	f.worker("fetcher", "SOCIALSYNC_FETCHER_CATALOGUE_EVERY=2s")
	var syncers []*proc
	for _, w := range []string{"enricher", "stats", "contactsync", "contactsync", "automation"} {
		p := f.worker(w)
		if w == "contactsync" {
			syncers = append(syncers, p)
		}
	}
	eventually(t, 60*time.Second, "the gateway ready", func() bool {
		res, err := http.Get(gwURL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	rl.mu.Lock()
	rl.gateway = gwURL
	rl.mu.Unlock()

	// The first catalogue is a baseline: no tag.created for the tags the
	// location had. A tag created afterwards fires the workflow once.
	tagsKV, err := js.KeyValue(ctx, topology.BucketTags)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the location's first catalogue stored", func() bool {
		_, err := tagsKV.Get(ctx, relations.CatalogueKey(d.ID))
		return err == nil
	})
	f.admin(http.MethodPost, "/_sandbox/locations/"+d.ID+"/socialTags", map[string]any{"tag": "E2E Delta"}, nil)
	msg, err := created.NextMsg(60 * time.Second)
	if err != nil {
		t.Fatalf("no tag.created for a tag created after the location was connected: %v", err)
	}
	if !strings.Contains(string(msg.Data), "E2E Delta") {
		t.Errorf("the first tag.created is not the new tag's: the workflow fired for a tag the location had: %s", msg.Data)
	}
	if extra, err := created.NextMsg(3 * time.Second); err == nil {
		t.Errorf("tag.created fired again: %s", extra.Data)
	}

	// Contacts named by email; a new email named by two events a second
	// apart, with the search index 5 s behind.
	post := 0
	publish := func(tags []string, contacts string) {
		post++
		var ids []string
		for _, tg := range tags {
			ids = append(ids, fmt.Sprintf("%q", tagID[tg]))
		}
		f.publishJSON("socialsync.trigger.post."+d.ID, fmt.Sprintf(`{"locationId":%q,"postId":"%024x","tagIds":[%s],"contacts":[%s],"eventId":"e2e-refs-%d"}`,
			d.ID, 0xe2e000+post, strings.Join(ids, ","), contacts, post), "")
	}
	publish([]string{"E2E Alpha", "E2E Gamma"}, `{"email":"ANN.e2e@example.com"},{"email":"bob.e2e@example.com"}`)
	publish([]string{"E2E Beta"}, `{"email":"new.e2e@example.com"}`)
	time.Sleep(time.Second)
	publish([]string{"E2E Gamma"}, `{"email":"new.e2e@example.com"}`)
	has := func(c ghlsim.ContactView, tags ...string) bool {
		for _, tg := range tags {
			if !slices.Contains(c.Tags, tg) {
				return false
			}
		}
		return true
	}
	byEmail := func(email string) []ghlsim.ContactView {
		return slices.DeleteFunc(f.contacts(d.ID), func(c ghlsim.ContactView) bool { return c.Email != email })
	}
	eventually(t, 120*time.Second, "the contacts named by email tagged, the new one created once", func() bool {
		news := byEmail("new.e2e@example.com")
		return has(byEmail("ann.e2e@example.com")[0], "social:e2e alpha", "social:e2e gamma") &&
			has(byEmail("bob.e2e@example.com")[0], "social:e2e alpha", "social:e2e gamma") &&
			len(news) == 1 && has(news[0], "social:e2e beta", "social:e2e gamma")
	})
	time.Sleep(6 * time.Second) // past the index lag: a second create would show now
	if news := byEmail("new.e2e@example.com"); len(news) != 1 {
		t.Fatalf("%d contacts hold the new email, want 1: %+v", len(news), news)
	}
	newContact := byEmail("new.e2e@example.com")[0]

	// Renamed and deleted in Social Planner: no post event follows; the
	// periodic catalogue refresh notices.
	f.admin(http.MethodPut, "/_sandbox/locations/"+d.ID+"/socialTags/"+tagID["E2E Alpha"], map[string]any{"tag": "E2E Omega"}, nil)
	f.admin(http.MethodDelete, "/_sandbox/locations/"+d.ID+"/socialTags/"+tagID["E2E Gamma"], nil, nil)
	eventually(t, 120*time.Second, "the rename and the deletion on every contact", func() bool {
		for _, c := range f.contacts(d.ID) {
			if slices.Contains(c.Tags, "social:e2e alpha") || slices.Contains(c.Tags, "social:e2e gamma") {
				return false
			}
		}
		return has(byEmail("ann.e2e@example.com")[0], "social:e2e omega") && has(byEmail("bob.e2e@example.com")[0], "social:e2e omega") &&
			has(byEmail("new.e2e@example.com")[0], "social:e2e beta")
	})

	// A new contact tag template renames the tags socialsync gave, on every
	// contact, and nothing else.
	mapping("sp-{{tagName}}", "respect")
	eventually(t, 120*time.Second, "the tags renamed under the new template", func() bool {
		for _, c := range f.contacts(d.ID) {
			for _, tg := range c.Tags {
				if strings.HasPrefix(tg, "social:e2e") {
					return false
				}
			}
		}
		return has(byEmail("ann.e2e@example.com")[0], "sp-e2e omega") && has(byEmail("bob.e2e@example.com")[0], "sp-e2e omega") &&
			has(byEmail("new.e2e@example.com")[0], "sp-e2e beta")
	})
	eventually(t, 30*time.Second, "mappings status: the renaming done", func() bool {
		return strings.Contains(f.cli("mappings", "status", "--nats", f.natsURL, "--location", d.ID), "3/3 contacts done, 3 renamed")
	})
	lastWrite := time.Now()

	// HighLevel's webhooks of those writes reached contactsync, signed;
	// none was taken for a hand edit.
	eventually(t, 60*time.Second, "the webhooks of socialsync's writes stored", func() bool { return len(rl.stored()) >= 4 })
	const byHand = "contact tag removed by hand in HighLevel"
	for _, p := range syncers {
		if strings.Contains(p.out.String(), byHand) {
			t.Errorf("a webhook of socialsync's own write was taken for a hand edit:\n%s", tail(p.out.String(), 40))
		}
	}
	sent := rl.stored()[0]
	if code, answer := postWebhook(t, gwURL, sent.body, sent.header); code != http.StatusOK || !strings.Contains(answer, "duplicate") {
		t.Errorf("a replayed delivery: %d %s, want 200 duplicate", code, answer)
	}
	forged := sent.header.Clone()
	forged.Set("X-GHL-Signature", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 64)))
	tampered := bytes.Replace(sent.body, []byte(`"tags"`), []byte(`"tags" `), 1)
	if code, answer := postWebhook(t, gwURL, tampered, forged); code != http.StatusUnauthorized {
		t.Errorf("a badly signed delivery: %d %s, want 401", code, answer)
	}

	// An agency install connects the company's locations; each is
	// scheduled in the time zone HighLevel gives it.
	agencyInstall(t, f)
	others := f.locations(2)
	other := others[1]
	schedules, err := js.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the agency-installed location scheduled in "+other.Timezone, func() bool {
		m, err := schedules.GetLastMsgForSubject(ctx, "socialsync.schedule.stats."+other.ID)
		return err == nil && m.Header.Get("Nats-Schedule-Time-Zone") == other.Timezone && other.Timezone != ""
	})

	// Removed by hand, under the repair policy: the webhook is noted, a dry
	// run reports the contact, a reconciliation adds the tag again.
	// Reconciliation leaves out contacts socialsync wrote in the last minute.
	mapping("sp-{{tagName}}", "repair")
	time.Sleep(time.Until(lastWrite.Add(65 * time.Second)))
	gc, err := ghl.New(ghl.Options{BaseURL: f.simURL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	pit := gc.ForLocation(d.ID, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: d.Token}))
	if _, err := pit.RemoveContactTags(ctx, newContact.ID, []string{"sp-e2e beta"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the hand removal noted by contactsync", func() bool {
		for _, p := range syncers {
			if strings.Contains(p.out.String(), byHand) {
				return true
			}
		}
		return false
	})
	out := f.cli("reconcile", "--nats", f.natsURL, "--location", d.ID, "--dry-run", "--timeout", "60s")
	if !strings.Contains(out, "missing  "+newContact.ID) || !strings.Contains(out, "0 repaired") {
		t.Errorf("reconcile --dry-run does not report the hand removal:\n%s", out)
	}
	if has(byEmail("new.e2e@example.com")[0], "sp-e2e beta") {
		t.Error("the dry run repaired")
	}
	out = f.cli("reconcile", "--nats", f.natsURL, "--location", d.ID, "--timeout", "60s")
	if !strings.Contains(out, "1 repaired") {
		t.Errorf("reconcile under repair:\n%s", out)
	}
	eventually(t, 30*time.Second, "the tag removed by hand added again", func() bool {
		return has(byEmail("new.e2e@example.com")[0], "sp-e2e beta")
	})
}
