// HighLevel's webhooks end to end, each component as its own NATS user.

package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// TestHighLevelWebhooksWithTheirOwnUsers runs the simulator's signed
// webhooks through the gateway (configured with the key the simulator
// publishes) to contactsync, on nats-server loaded with accounts.conf:
// socialsync's own tagging comes back as HighLevel's tags and is no hand
// edit, a tag removed by hand in HighLevel is recorded as such, a contact
// deleted in HighLevel is forgotten, and no user hits a permission
// violation.
func TestHighLevelWebhooksWithTheirOwnUsers(t *testing.T) {
	n, simSrv, key, loc := withLocation(t)

	runAs(t, n, "fetcher", simSrv.URL, key, func(c *fetcher.Config) *fleet.Config { return &c.Config }, nil, cli.NewFetcher)
	runAs(t, n, "contactsync", simSrv.URL, key, func(c *contactsync.Config) *fleet.Config { return &c.Config }, nil, cli.NewContactSync)

	var apps struct {
		WebhookPublicKey string `json:"webhookPublicKey"`
	}
	fleettest.Admin(t, simSrv.URL, http.MethodGet, "/_sandbox/apps", nil, &apps)
	const apiKey = "sk-test-0123456789abcdef"
	gd, srv := serveGateway(t, n, simSrv.URL, func(c *gateway.Config) {
		c.APIKeyHashes, c.HighLevelWebhookKey = gateway.HashAPIKey(apiKey), apps.WebhookPublicKey
	})
	fleettest.Admin(t, simSrv.URL, http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": srv.URL + "/v1/highlevel/webhooks"}, nil)

	detail := fleettest.Location(t, simSrv.URL, loc.ID)
	var tagID, tag, contact string
	for _, tg := range detail.SocialTags {
		if !tg.Deleted && tagID == "" {
			tagID, tag = tg.ID, "social:"+strings.ToLower(tg.Tag)
		}
	}
	for _, c := range detail.Contacts {
		if !c.Deleted && contact == "" {
			contact = c.ID
		}
	}
	call := func(method, url, token string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, err := http.NewRequest(method, url, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Version", "2021-07-28")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %d", method, url, resp.StatusCode)
		}
	}
	call(http.MethodPost, srv.URL+"/v1/locations/"+loc.ID+"/triggers/post", apiKey,
		map[string]any{"postId": "p-hl", "tagIds": []string{tagID}, "contactIds": []string{contact}})

	kv, err := gd.JS.KeyValue(context.Background(), topology.BucketRelations)
	if err != nil {
		t.Fatal(err)
	}
	state := func() relations.ContactState {
		var st relations.ContactState
		if e, err := kv.Get(context.Background(), relations.ContactKey(loc.ID, contact)); err == nil {
			_ = json.Unmarshal(e.Value(), &st)
		}
		return st
	}
	fleettest.Eventually(t, 30*time.Second, "socialsync's tag back from HighLevel's webhook", func() bool {
		st := state()
		return slices.Contains(st.Applied, tag) && st.HighLevel != nil && slices.Contains(st.HighLevel.Tags, tag)
	})
	if st := state(); len(st.Removed) != 0 {
		t.Errorf("socialsync's own tagging recorded as a hand edit: %v", st.Removed)
	}

	call(http.MethodDelete, simSrv.URL+"/contacts/"+contact+"/tags", loc.Token, map[string]any{"tags": []string{tag}})
	fleettest.Eventually(t, 30*time.Second, "the hand removal recorded", func() bool {
		_, removed := state().Removed[tag]
		return removed
	})
	// Deleted in HighLevel: forgotten.
	fleettest.Admin(t, simSrv.URL, http.MethodDelete, "/_sandbox/locations/"+loc.ID+"/contacts/"+contact, nil, nil)
	fleettest.Eventually(t, 30*time.Second, "the deleted contact forgotten", func() bool {
		_, err := kv.Get(context.Background(), relations.ContactKey(loc.ID, contact))
		return err != nil
	})
	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations:\n%s", strings.Join(v, "\n"))
	}
}
