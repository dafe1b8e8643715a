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
