package automationworker_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// In a location whose mapping names contact tags by a template of its
// own, a workflow on a tag event reaches the contacts carrying the tag
// under that name (never under the default prefix), and a segment built
// on the custom name has them as members.
func TestCustomTemplate(t *testing.T) {
	env := fleettest.Start(t, "demo")
	loc := env.Locations[0].ID
	contacts := env.LiveContacts(t, loc, 3)
	a, b, c := contacts[0], contacts[1], contacts[2]
	kv, err := env.JS.KeyValue(context.Background(), topology.BucketSettings)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: "sp-{{tagName}}"}); err != nil {
		t.Fatal(err)
	}
	applySegments(t, env, "segments:\n  - name: promo-fans\n    allTags: [\"sp-promo\"]\n")
	applyWorkflows(t, env, `workflows:
  - name: renamed-promo
    on: tag.renamed
    actions:
      - addContactTags: { tags: ["promo-renamed"] }
`)
	startWorker(t, env)

	// a and b carry Promo under the location's template, c only Sale.
	now := time.Now()
	tagPostAs(t, env, loc, "sp-", "p1", []string{"Promo"}, now, a, b)
	waitContactsHandled(t, env, tagPostAs(t, env, loc, "sp-", "p2", []string{"Sale"}, now, c))
	waitTags(t, env, loc, []string{a, b}, []string{"segment:promo-fans"}, nil)

	seq := publishEvent(t, env, topology.TagEvents, loc, &socialsyncv1.TagChanged{LocationId: loc, TagId: "tpromo",
		TagName: "Promo 2026", PreviousName: "Promo", Change: socialsyncv1.Change_CHANGE_RENAMED})
	waitEventsHandled(t, env, seq)
	waitTags(t, env, loc, []string{a, b}, []string{"promo-renamed"}, nil)
	for _, id := range []string{c} {
		if got := contactTags(t, env, loc, id); hasTag(got, "promo-renamed") || hasTag(got, "segment:promo-fans") {
			t.Errorf("%s, without sp-promo, got %v", id, got)
		}
	}
}
