package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// subscribeCount counts the messages published on subject until the test
// ends, keeping their bodies.
func subscribeCount(t *testing.T, env *fleettest.Env, subject string) func() []string {
	t.Helper()
	nc, err := nats.Connect(env.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	got := make(chan string, 1024)
	if _, err := nc.Subscribe(subject, func(m *nats.Msg) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	return func() []string {
		for {
			select {
			case s := <-got:
				seen = append(seen, s)
			default:
				return seen
			}
		}
	}
}

// A newly connected location fires no tag.created workflow for the tags
// it already had: its first catalogue is a baseline. A tag created later
// fires the workflow once.
func TestConnectedLocationFiresNoTagCreated(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs, contacts := workersLocation(t, env, "Promo", "Launch", "Behind the scenes")
	wfs, err := automation.ParseWorkflows("workflows.yaml", []byte(`workflows:
  - name: announce
    on: tag.created
    actions: [{ publish: { subject: acme.newtag } }]
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := automation.ApplyWorkflows(context.Background(), env.JS, wfs, false); err != nil {
		t.Fatal(err)
	}
	announced := subscribeCount(t, env, "acme.newtag")
	runWorkers(t, env)

	publishPost(t, env, loc, "p1", tagIDs[:1], contacts)
	fleettest.Eventually(t, 30*time.Second, "contact tags", func() bool { return tagged(t, env, loc, "social:promo") })

	var fresh struct {
		ID string `json:"_id"`
	}
	env.Admin(t, http.MethodPost, "/_sandbox/locations/"+loc+"/socialTags", map[string]any{"tag": "Winter"}, &fresh)
	publishPost(t, env, loc, "p2", []string{fresh.ID}, contacts)
	fleettest.Eventually(t, 30*time.Second, "the new tag announced", func() bool { return len(announced()) > 0 })
	fleettest.Eventually(t, 30*time.Second, "its contact tag", func() bool { return tagged(t, env, loc, "social:winter") })
	if got := announced(); len(got) != 1 || !strings.Contains(got[0], `"tagName":"Winter"`) {
		t.Errorf("tag.created fired %d times (%v), want once, for the tag created after connecting", len(got), got)
	}
}

// A tag deleted in Social Planner leaves every contact socialsync gave it
// to, and the segment built on it, and a renamed one changes name on
// them, once a catalogue refresh notices; a contact that carries the same
// contact tag by hand, with no post of socialsync's, keeps it.
func TestDeletedAndRenamedTagsFollowHighLevel(t *testing.T) {
	env := fleettest.Start(t, "empty")
	loc, tagIDs, linked := workersLocation(t, env, "Promo", "Launch", "Tips")
	tags := map[string]string{"Promo": tagIDs[0], "Launch": tagIDs[1], "Tips": tagIDs[2]}
	var hand struct {
		ID string `json:"id"`
	}
	env.Admin(t, http.MethodPost, "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": "Hand", "tags": []string{"social:promo"}}, &hand)
	applyPromoFans(t, env)
	runWorkers(t, env)

	publishPost(t, env, loc, "p1", []string{tags["Promo"], tags["Launch"]}, linked[:1])
	publishPost(t, env, loc, "p2", []string{tags["Promo"], tags["Tips"]}, linked[1:])
	env.WaitTags(t, loc, linked[:1], []string{"social:promo", "social:launch", "segment:promo-fans"}, nil)
	env.WaitTags(t, loc, linked[1:], []string{"social:promo", "social:tips", "segment:promo-fans"}, nil)
	// The enricher lists the posts under their tags: what a tag's
	// deletion reaches.
	rel, err := env.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "posts listed under their tags", func() bool {
		for _, tag := range []string{tags["Promo"], tags["Launch"]} {
			e, err := rel.Get(context.Background(), relations.TagPostsKey(loc, tag))
			if err != nil {
				return false
			}
			tp, _ := relations.UnmarshalTagPosts(e.Value())
			if tag == tags["Promo"] && len(tp.PostIDs) < 2 {
				return false
			}
		}
		return true
	})

	env.Admin(t, http.MethodDelete, "/_sandbox/locations/"+loc+"/socialTags/"+tags["Promo"], nil, nil)
	env.Admin(t, http.MethodPut, "/_sandbox/locations/"+loc+"/socialTags/"+tags["Launch"], map[string]any{"tag": "Big Launch"}, nil)
	refresh, _ := topology.CatalogueRefreshes.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(context.Background(), refresh, &socialsyncv1.PostEvent{LocationId: loc, PostId: "refresh",
		EventId: "lifecycle-refresh"}); err != nil {
		t.Fatal(err)
	}
	env.WaitTags(t, loc, linked[:1], []string{"social:big launch"}, []string{"social:promo", "social:launch", "segment:promo-fans"})
	env.WaitTags(t, loc, linked[1:], []string{"social:tips"}, []string{"social:promo", "segment:promo-fans"})
	if got := env.ContactTags(t, loc, hand.ID); !fleettest.HasTag(got, "social:promo") {
		t.Errorf("the contact tagged by hand lost social:promo: %v", got)
	}
}
