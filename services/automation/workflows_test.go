package automationworker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

// A workflow fires once per matching event: its webhook is signed and
// called once, its message published once, its custom value set, also
// when the event is delivered again because a later action failed; an
// event its condition refuses fires nothing.
func TestWorkflowFiresOncePerEvent(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	h := newHook(t, "hook-secret", 200)
	applyWorkflows(t, env, fmt.Sprintf(`workflows:
  - name: announce-new-tags
    on: tag.created
    when: 'tagName startsWith "promo"'
    actions:
      - webhook: { url: %q, secret: slack }
      - publish: { subject: "acme.newtag" }
      - setCustomValue: { name: socialsync_last_promo_tag, valueExpr: 'tagName' }
`, h.url))
	published := subscribe(t, env, "acme.newtag")
	startWorker(t, env, func(c *automationworker.Config) {
		c.SecretsDir = secretsDir(t, "slack", "hook-secret")
		c.WebhookAllowedHosts = hookAllowance
	})

	tag := func(name string) *socialsyncv1.TagChanged {
		return &socialsyncv1.TagChanged{LocationId: loc, TagId: "t" + strings.ReplaceAll(name, "-", ""), TagName: name,
			Change: socialsyncv1.Change_CHANGE_CREATED}
	}
	publishEvent(t, env, topology.TagEvents, loc, tag("promo-summer"))
	seq := publishEvent(t, env, topology.TagEvents, loc, tag("summer"))
	waitEventsHandled(t, env, seq)
	fleettest.Eventually(t, 10*time.Second, "custom value", func() bool {
		v, ok := customValue(t, env, loc, "socialsync_last_promo_tag")
		return ok && v == "promo-summer"
	})
	if good, bad := h.calls(); good != 1 || bad != 0 {
		t.Fatalf("webhook: %d verified calls, %d badly signed; want 1 and 0", good, bad)
	}
	var body socialsyncv1.TagChanged
	h.mu.Lock()
	err := json.Unmarshal(h.bodies[0], &struct {
		TagName *string `json:"tagName"`
	}{&body.TagName})
	h.mu.Unlock()
	if err != nil || body.TagName != "promo-summer" {
		t.Errorf("webhook body: tagName %q, %v", body.TagName, err)
	}
	msgs := published()
	if len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), `"tagName":"promo-summer"`) {
		t.Fatalf("published %d messages on acme.newtag, want 1 carrying the event", len(msgs))
	}
	if got := msgs[0].Header.Get("X-Socialsync-Event"); got != "tag.created" {
		t.Errorf("X-Socialsync-Event %q", got)
	}

	// HighLevel fails the custom value (the last action) until the event
	// has been delivered again: the webhook and the publish are not
	// repeated.
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"rate500": 1}, nil)
	before := bustest.ConsumerInfo(t, env.JS, topology.StreamEvents, topology.DurableWorkflows).NumRedelivered
	seq = publishEvent(t, env, topology.TagEvents, loc, tag("promo-winter"))
	fleettest.Eventually(t, 60*time.Second, "the event delivered again", func() bool {
		return bustest.ConsumerInfo(t, env.JS, topology.StreamEvents, topology.DurableWorkflows).NumRedelivered > before
	})
	env.Admin(t, "PUT", "/_sandbox/faults", map[string]any{"rate500": 0}, nil)
	waitEventsHandled(t, env, seq)
	if v, _ := customValue(t, env, loc, "socialsync_last_promo_tag"); v != "promo-winter" {
		t.Errorf("custom value %q after the redelivery, want promo-winter", v)
	}
	if good, _ := h.calls(); good != 2 {
		t.Errorf("webhook called %d times for two matching events, want 2", good)
	}
	if n := len(published()); n != 2 {
		t.Errorf("%d messages published for two matching events, want 2", n)
	}
}

// A webhook that keeps failing is retried, then dead-lettered with the
// workflow and the action named; the workflow's other actions still run
// and the event is acknowledged. The URL's path never shows.
func TestWebhookFailureIsDeadLettered(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	h := newHook(t, "s", 503)
	applyWorkflows(t, env, fmt.Sprintf(`workflows:
  - name: notify
    on: tag.deleted
    actions:
      - webhook: { url: %q, secret: hook }
      - publish: { subject: "acme.deleted" }
`, h.url))
	published := subscribe(t, env, "acme.deleted")
	startWorker(t, env, func(c *automationworker.Config) {
		c.SecretsDir = secretsDir(t, "hook", "s")
		c.WebhookAllowedHosts = hookAllowance
		c.WebhookAttempts = 3
		c.WebhookBackoff = time.Millisecond
	})
	seq := publishEvent(t, env, topology.TagEvents, loc, &socialsyncv1.TagChanged{LocationId: loc, TagId: "t1", TagName: "gone",
		Change: socialsyncv1.Change_CHANGE_DELETED})
	waitEventsHandled(t, env, seq)
	if good, _ := h.calls(); good != 3 {
		t.Errorf("webhook tried %d times, want 3", good)
	}
	dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.workflows."+loc)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	for _, want := range []string{"workflow notify action 0 (webhook)", "3 attempts", "5xx"} {
		if !strings.Contains(dl.Reason, want) {
			t.Errorf("dead letter reason %q lacks %q", dl.Reason, want)
		}
	}
	if strings.Contains(dl.Reason, "secret-path") {
		t.Errorf("dead letter reason shows the webhook's path: %q", dl.Reason)
	}
	if n := len(published()); n != 1 {
		t.Errorf("%d messages published after the failed webhook, want 1", n)
	}
}

// Workflows applied while the worker runs are used at once; a broken
// value stored behind the CLI's back is refused on load (the previous
// revision stays in force), and a broken new workflow never fires.
func TestWorkflowsLiveReload(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	published := subscribe(t, env, "acme.>")
	startWorker(t, env)
	fire := func(name string) {
		t.Helper()
		waitEventsHandled(t, env, publishEvent(t, env, topology.TagEvents, loc, &socialsyncv1.TagChanged{LocationId: loc, TagId: "t" + name,
			TagName: name, PreviousName: "old", Change: socialsyncv1.Change_CHANGE_RENAMED}))
	}
	fire("before")
	if n := len(published()); n != 0 {
		t.Fatalf("%d messages before any workflow", n)
	}

	applyWorkflows(t, env, `workflows:
  - name: renames
    on: tag.renamed
    when: previousName == "old"
    actions: [{ publish: { subject: acme.renamed } }]
`)
	fleettest.Eventually(t, 10*time.Second, "the workflow in force", func() bool {
		fire(fmt.Sprintf("n%d", time.Now().UnixNano()))
		return len(published()) > 0
	})

	kv, err := env.JS.KeyValue(context.Background(), topology.BucketWorkflows)
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range map[string]string{
		"renames": `{"name":"renames","on":"tag.renamed","when":"previousNme == 1","actions":[{"publish":{"subject":"acme.broken"}}]}`,
		"broken":  `{"name":"broken","on":"tag.renamed","actions":[{"publish":{"subject":"acme.*"}}]}`,
	} {
		if _, err := kv.Put(context.Background(), key, []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the watch delivers; nothing to poll for: nothing may change
	n := len(published())
	fire("after")
	msgs := published()
	if len(msgs) != n+1 {
		t.Fatalf("%d messages for one event after broken values were stored, want 1", len(msgs)-n)
	}
	if s := msgs[len(msgs)-1].Subject; s != "acme.renamed" {
		t.Errorf("published to %s, want acme.renamed (the last good revision)", s)
	}
	list, err := automation.ListWorkflows(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	broken := 0
	for _, w := range list {
		if w.Err != nil {
			broken++
		}
	}
	if broken != 2 {
		t.Errorf("list shows %d broken workflows, want 2: %+v", broken, list)
	}
}

// The tags of a location's first catalogue arrive as discovered: they
// fire only the tag.created workflows that ask for discovered tags, and
// a change value newer than this build is acknowledged and ignored, not
// dead-lettered.
func TestDiscoveredTagsFireOnlyWhenAsked(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	applyWorkflows(t, env, `workflows:
  - name: new-only
    on: tag.created
    actions: [{ publish: { subject: acme.new } }]
  - name: all
    on: tag.created
    includeDiscovered: true
    actions: [{ publish: { subject: acme.all } }]
`)
	news, all := subscribe(t, env, "acme.new"), subscribe(t, env, "acme.all")
	startWorker(t, env)
	tag := func(id string, c socialsyncv1.Change) *socialsyncv1.TagChanged {
		return &socialsyncv1.TagChanged{LocationId: loc, TagId: id, TagName: id, Change: c}
	}
	publishEvent(t, env, topology.TagEvents, loc, tag("old1", socialsyncv1.Change_CHANGE_DISCOVERED))
	publishEvent(t, env, topology.TagEvents, loc, tag("old2", socialsyncv1.Change_CHANGE_DISCOVERED))
	publishEvent(t, env, topology.TagEvents, loc, tag("future", socialsyncv1.Change(99)))
	waitEventsHandled(t, env, publishEvent(t, env, topology.TagEvents, loc, tag("fresh", socialsyncv1.Change_CHANGE_CREATED)))

	fleettest.Eventually(t, 10*time.Second, "three tags announced to the workflow that asks for discovered ones, one to the other", func() bool {
		return len(all()) == 3 && len(news()) > 0
	})
	if got := news(); len(got) != 1 || !strings.Contains(string(got[0].Data), `"tagId":"fresh"`) {
		t.Errorf("workflow on new tags only: %d messages, want 1 for the created tag", len(got))
	}
	if dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.workflows."+loc); len(dls) != 0 {
		t.Errorf("dead letters %+v, want none (an unknown change value is acknowledged)", dls)
	}
}
