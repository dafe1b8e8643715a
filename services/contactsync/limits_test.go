package contactsync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/contactsync/core/automation"
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
	publishEvent(t, env, bus.TagDetailsEvents, loc, details(automation.MaxEventTags+1))
	seq := publishEvent(t, env, bus.TagDetailsEvents, loc, details(automation.MaxEventTags))
	waitEventsHandled(t, env, seq)
	dls := bustest.DeadLetters(t, env.JS, "socialsync.dlq.contactsync."+loc)
	if len(dls) != 1 || !strings.Contains(dls[0].Reason, fmt.Sprintf("%d entries, more than the %d", automation.MaxEventTags+1, automation.MaxEventTags)) {
		t.Fatalf("dead letters %+v; want one naming the cap of tags", dls)
	}
	if n := len(published()); n != 1 {
		t.Errorf("%d messages published; want 1, for the event within the cap", n)
	}
}
