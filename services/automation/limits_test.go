package automationworker_test

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

// A tag details event with more tags than workflow conditions are bounded
// for is dead-lettered naming the cap, and fires nothing; one within the
// cap fires.
func TestEventOverListCapIsRefused(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	applyWorkflows(t, env, `workflows:
  - name: any-promo
    on: tagdetails.stored
    when: 'any(tags, #.tagName startsWith "promo")'
    actions:
      - publish: { subject: "acme.details" }
`)
	published := subscribe(t, env, "acme.details")
	startWorker(t, env)
	details := func(n int) *socialsyncv1.TagDetailsStored {
		ev := &socialsyncv1.TagDetailsStored{LocationId: loc}
		for i := range n {
			ev.TagDetails = append(ev.TagDetails, &socialsyncv1.TagDetail{TagId: fmt.Sprintf("t%d", i), TagName: fmt.Sprintf("promo-%d", i)})
		}
		return ev
	}
	publishEvent(t, env, topology.TagDetailsEvents, loc, details(automation.MaxEventTags+1))
	seq := publishEvent(t, env, topology.TagDetailsEvents, loc, details(automation.MaxEventTags))
	waitEventsHandled(t, env, seq)
	dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.workflows."+loc)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, fmt.Sprintf("%d entries, more than the %d", automation.MaxEventTags+1, automation.MaxEventTags)) {
		t.Fatalf("dead letters %+v; want one naming the cap of tags", dls)
	}
	if n := len(published()); n != 1 {
		t.Errorf("%d messages published; want 1, for the event within the cap", n)
	}
}

// A workflow webhook aimed at a loopback listener is refused where the
// connection would be made: the listener accepts no connection, nothing is
// retried, and the dead letter, which the API shows, names neither the
// address nor the port. A bad allow-list stops the worker at start.
func TestWebhookAimedInsideIsRefused(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	applyWorkflows(t, env, fmt.Sprintf(`workflows:
  - name: probe
    on: tag.deleted
    actions:
      - webhook: { url: "http://127.0.0.1:%s/admin", secret: hook }
`, port))
	startWorker(t, env, func(c *automationworker.Config) {
		c.SecretsDir = secretsDir(t, "hook", "s")
		c.WebhookBackoff = time.Millisecond
	})
	seq := publishEvent(t, env, topology.TagEvents, loc, &socialsyncv1.TagChanged{LocationId: loc, TagId: "t1", TagName: "gone",
		Change: socialsyncv1.Change_CHANGE_DELETED})
	waitEventsHandled(t, env, seq)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections; want 0", n)
	}
	dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.workflows."+loc)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, "destination not allowed") {
		t.Fatalf("dead letters %+v; want one saying the destination is not allowed", dls)
	}
	for _, leak := range []string{port, "127.0.0.1", "/admin"} {
		if strings.Contains(dls[0].Reason, leak) {
			t.Errorf("dead letter reason %q names %q", dls[0].Reason, leak)
		}
	}

	_, err = automationworker.New(automationworker.Config{Config: env.Deps.Config, Concurrency: 1, TagPrefix: "social:", BulkMin: 2,
		WebhookAllowedHosts: "hooks.internal, 10.0.0.0/99"}, deps(t, env))
	if err == nil || !strings.Contains(err.Error(), "SOCIALSYNC_WORKFLOW_WEBHOOK_ALLOWED_HOSTS") || !strings.Contains(err.Error(), "10.0.0.0/99") {
		t.Errorf("New with a bad allow-list: %v; want an error naming the variable and the entry", err)
	}
}
