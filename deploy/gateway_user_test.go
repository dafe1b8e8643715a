// The gateway runs as the gateway NATS user through every operation of its
// OpenAPI document.

package deploy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// gatewayCall is one request of TestGatewayWithItsOwnUser: op is the
// operation it exercises as the OpenAPI document names it ("GET
// /v1/locations/{loc}").
type gatewayCall struct {
	op, path, body string
	header         map[string]string
	status         int
	contains       string
}

// TestGatewayWithItsOwnUser runs the fetcher and the gateway, each as its
// own user on nats-server loaded with accounts.conf, and calls every
// operation of the gateway's OpenAPI document (read from the running
// gateway): each answers as it should, the server logs no permissions
// violation, and an operation the test has no call for fails it. The
// operations that touch stored reports, settings, segment definitions and
// saved workflows are the ones the gateway user was refused before it had
// exactly its grants.
func TestGatewayWithItsOwnUser(t *testing.T) {
	n, simSrv, key, loc := withLocation(t)

	runAs(t, n, "fetcher", simSrv.URL, key, func(c *fetcher.Config) *fleet.Config { return &c.Config }, nil, cli.NewFetcher)

	const apiKey, webhookSecret = "sk-test-0123456789abcdef", "whsec-default-0123456789"
	gd := n.deps(t, "gateway", simSrv.URL, "") // the gateway holds no token key
	gcfg := defaults[gateway.Config](t)
	gcfg.Config, gcfg.APIKeyHashes, gcfg.WebhookSecret = gd.Config, gateway.HashAPIKey(apiKey), webhookSecret
	gcfg.PublicURL, gcfg.Config.GHLClientID = "https://socialsync.example", "client-id" // the hosted flow's URLs
	hlPub, hlKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	gcfg.HighLevelWebhookKey = base64.StdEncoding.EncodeToString(hlPub)
	g, err := gateway.New(gcfg, gd)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	call := func(method, path, body string, header map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
		if err != nil {
			// A request the server refused the gateway times out: the
			// test goes on, to name every operation that fails.
			t.Errorf("%s %s: %v", method, path, err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4000)) // the event stream ends with the client's timeout
		return resp.StatusCode, string(b)
	}

	// A dead letter: a catalogue refresh the fetcher (the only reader of
	// refreshes) cannot decode. A bad post trigger would be dead-lettered
	// by contactsync, its family's owner, which does not run here.
	opConn, _ := n.connect(t, "operator")
	js, err := jetstream.New(opConn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(context.Background(), "socialsync.refresh.catalogue."+loc.ID, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	var seq int
	fleettest.Eventually(t, 20*time.Second, "the dead letter listed by the gateway", func() bool {
		_, body := call("GET", "/v1/deadletters", "", nil)
		i := strings.Index(body, `"seq":`)
		return i >= 0 && func() bool { _, err := fmt.Sscanf(body[i+6:], "%d", &seq); return err == nil }()
	})
	// Stored reports, written as the stats worker writes them.
	const from, to = "2026-11-01", "2026-11-07"
	storeReport(t, n, report.Report{Location: loc.ID, From: from, To: to}, report.LatestName(loc.ID, report.JSON), report.Name(loc.ID, from, to, report.JSON))

	// The fetcher stores the location's catalogue on a post trigger; a tag
	// of it is the {tag} of the tag operation.
	detail := fleettest.Location(t, simSrv.URL, loc.ID)
	if len(detail.SocialTags) == 0 {
		t.Fatal("no social tags in the simulator's location")
	}
	postTrigger := gatewayCall{"POST /v1/locations/{loc}/triggers/post", "/v1/locations/" + loc.ID + "/triggers/post",
		`{"postId":"p1","tagIds":["` + detail.SocialTags[0].ID + `"]}`, nil, 202, "socialsync.trigger.post."}
	if st, body := call("POST", postTrigger.path, postTrigger.body, nil); st != postTrigger.status {
		t.Fatalf("post trigger: %d %s", st, body)
	}
	var tags struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	fleettest.Eventually(t, 30*time.Second, "the catalogue listed by the gateway", func() bool {
		_, body := call("GET", "/v1/locations/"+loc.ID+"/tags?limit=3", "", nil)
		return json.Unmarshal([]byte(body), &tags) == nil && len(tags.Items) > 0
	})
	tag := tags.Items[0].ID

	webhook := `{"locationId":"` + loc.ID + `","postId":"p2","eventId":"ev-1"}`
	hlWebhook := `{"type":"ContactTagUpdate","locationId":"` + loc.ID + `","id":"contact1","tags":["vip"],"webhookId":"wh-1"}`
	yamlType := map[string]string{"Content-Type": "application/yaml"}
	l := "/v1/locations/" + loc.ID
	calls := []gatewayCall{
		{"POST /v1/webhooks/posts", "/v1/webhooks/posts", webhook, map[string]string{
			gateway.HeaderSignature: gateway.Sign(webhookSecret, time.Now(), []byte(webhook))}, 202, ""},
		{"POST /v1/highlevel/webhooks", "/v1/highlevel/webhooks", hlWebhook, map[string]string{
			gateway.HeaderHighLevelSignature: base64.StdEncoding.EncodeToString(ed25519.Sign(hlKey, []byte(hlWebhook)))}, 200, "socialsync.trigger.hlcontact."},
		{"GET /v1/locations", "/v1/locations", "", nil, 200, loc.ID},
		{"GET /v1/locations/{loc}", l, "", nil, 200, loc.ID},
		{"GET /v1/locations/{loc}/tags", l + "/tags", "", nil, 200, tag},
		{"GET /v1/locations/{loc}/tags/{tag}", l + "/tags/" + tag, "", nil, 200, tag},
		{"GET /v1/locations/{loc}/stats", l + "/stats", "", nil, 200, "items"},
		{"GET /v1/locations/{loc}/reports", l + "/reports", "", nil, 200, from},
		{"GET /v1/locations/{loc}/reports/latest", l + "/reports/latest", "", nil, 200, loc.ID},
		{"GET /v1/locations/{loc}/reports/range", l + "/reports/range?from=" + from + "&to=" + to, "", nil, 200, loc.ID},
		{"GET /v1/locations/{loc}/reports/range", l + "/reports/range?from=2026-10-01&to=2026-10-07", "", nil, 200, loc.ID}, // built now
		{"GET /v1/locations/{loc}/recommendations", l + "/recommendations", "", nil, 200, "cadence"},
		{"PUT /v1/segments", "/v1/segments", "segments:\n  - name: deploy-fans\n    anyTags: [\"social:launch\"]\n", yamlType, 200, "deploy-fans"},
		{"GET /v1/segments", "/v1/segments", "", nil, 200, "deploy-fans"},
		{"GET /v1/segments/{name}", "/v1/segments/deploy-fans", "", nil, 200, "deploy-fans"},
		{"GET /v1/locations/{loc}/segments", l + "/segments", "", nil, 200, "deploy-fans"},
		{"DELETE /v1/segments/{name}", "/v1/segments/deploy-fans", "", nil, 204, ""},
		{"PUT /v1/workflows", "/v1/workflows", "workflows:\n  - name: tag-to-nats\n    on: tag.created\n    actions:\n      - publish:\n          subject: \"crm.tags.new\"\n",
			yamlType, 200, "tag-to-nats"},
		{"GET /v1/workflows", "/v1/workflows", "", nil, 200, "tag-to-nats"},
		{"GET /v1/workflows/{name}", "/v1/workflows/tag-to-nats", "", nil, 200, "tag-to-nats"},
		{"DELETE /v1/workflows/{name}", "/v1/workflows/tag-to-nats", "", nil, 204, ""},
		postTrigger,
		{"POST /v1/locations/{loc}/triggers/tagdetails", l + "/triggers/tagdetails", `{"tagIds":["` + tag + `"]}`, nil, 202, "socialsync.trigger.tagdetails."},
		{"POST /v1/locations/{loc}/triggers/stats", l + "/triggers/stats", `{}`, nil, 202, "socialsync.trigger.stats."},
		// Reconciliation: requested (a trigger), then read from the relations bucket; no contactsync
		// runs here, so none is recorded yet.
		{"POST /v1/locations/{loc}/reconcile", l + "/reconcile", `{"dryRun":true}`, nil, 202, "socialsync.trigger.reconcile."},
		{"GET /v1/locations/{loc}/reconcile", l + "/reconcile", "", nil, 404, "never reconciled"},
		{"GET /v1/locations/{loc}/remap", l + "/remap", "", nil, 404, "never changed"},
		{"GET /v1/pipeline", "/v1/pipeline", "", nil, 200, "SOCIALSYNC_TRIGGERS"},
		{"GET /v1/locations/health", "/v1/locations/health", "", nil, 200, loc.ID},
		{"PUT /v1/locations/{loc}/settings/mapping", l + "/settings/mapping", `{"contactTag":"fb:{{tagName}}"}`, nil, 200, "fb:"},
		{"PUT /v1/locations/{loc}/settings/stats", l + "/settings/stats", `{"cron":"0 0 7 * * *"}`, nil, 200, "0 0 7"},
		{"GET /v1/locations/{loc}/settings", l + "/settings", "", nil, 200, "fb:"},
		{"GET /v1/deadletters", "/v1/deadletters", "", nil, 200, "bad_input"},
		{"GET /v1/deadletters/{seq}", fmt.Sprintf("/v1/deadletters/%d", seq), "", nil, 200, "bad_input"},
		{"POST /v1/deadletters/{seq}/replay", fmt.Sprintf("/v1/deadletters/%d/replay", seq), "", nil, 200, "socialsync.refresh.catalogue."},
		{"POST /v1/deadletters/replay", "/v1/deadletters/replay", `{"location":"` + loc.ID + `"}`, nil, 200, "replayed"},
		// The events the gateway's ordered consumer read since it started,
		// caught up on as by a client reconnecting with Last-Event-ID.
		{"GET /v1/events", "/v1/events", "", map[string]string{"Last-Event-ID": "1"}, 200, "socialsync.event.tag."},
		{"GET /v1/openapi.yaml", "/v1/openapi.yaml", "", nil, 200, "openapi"},
		{"GET /v1/me", "/v1/me", "", nil, 200, "admin"},
		{"PUT /v1/sources/{source}", "/v1/sources/crm", `{"locations":["` + loc.ID + `"]}`, nil, 200, loc.ID},
		{"GET /v1/sources", "/v1/sources", "", nil, 200, "crm"},
		{"GET /v1/sources/{source}", "/v1/sources/crm", "", nil, 200, loc.ID},
		{"DELETE /v1/sources/{source}", "/v1/sources/crm", "", nil, 204, ""},
		// The location lifecycle: the location record written, the audit log appended to and read.
		{"POST /v1/locations/{loc}/pause", l + "/pause", "", nil, 200, `"reason":"paused"`},
		{"POST /v1/locations/{loc}/resume", l + "/resume", "", nil, 200, loc.ID},
		{"GET /v1/audit", "/v1/audit?location=" + loc.ID, "", nil, 200, `"action":"resume"`},
		// The hosted flow's state, written to socialsync_oauth_states.
		{"POST /v1/oauth/authorizations", "/v1/oauth/authorizations", `{"userType":"Company"}`, nil, 201, "authorizationUrl"},
		// The test console's request published (no stats worker runs here: no responders, not a
		// permissions violation, which would time out).
		{"POST /v1/locations/{loc}/doctor", l + "/doctor", "", nil, 503, "no_worker"},
		// The removal, last: the location record marked, the request published for the stats worker
		// (none runs here), found stored by the second request, the progress read.
		{"GET /v1/locations/{loc}/removal", l + "/removal", "", nil, 200, `"state":"none"`},
		{"DELETE /v1/locations/{loc}", l + "?purge=true", "", nil, 202, "socialsync.trigger.remove."},
		{"DELETE /v1/locations/{loc}", l, "", nil, 202, `"duplicate":true`},
		{"GET /v1/locations/{loc}/removal", l + "/removal", "", nil, 200, `"state":"removing"`},
	}
	covered := map[string]bool{}
	for _, c := range calls {
		covered[c.op] = true
		method, _, _ := strings.Cut(c.op, " ")
		if st, body := call(method, c.path, c.body, c.header); st != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s (%s): %d %.300s; want %d with %q", c.op, c.path, st, body, c.status, c.contains)
		}
	}
	ops := openAPIOperations(t, srv.URL)
	for _, op := range ops {
		if !covered[op] {
			t.Errorf("no call for %s of the gateway's OpenAPI document: add one, run as the gateway user", op)
		}
	}
	for op := range covered {
		if !slices.Contains(ops, op) {
			t.Errorf("a call for %s, which the OpenAPI document does not name", op)
		}
	}
	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations while the gateway served:\n%s", strings.Join(v, "\n"))
	}
}

// openAPIOperations are the operations ("GET /v1/locations") of the
// OpenAPI document the gateway at url serves, sorted.
func openAPIOperations(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url + "/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	full, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/openapi.yaml: %d %v", resp.StatusCode, err)
	}
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := yaml.Unmarshal(full, &doc); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	if len(ops) < 20 {
		t.Fatalf("only %d operations in the OpenAPI document", len(ops))
	}
	slices.Sort(ops)
	return ops
}

// storeReport stores rep as JSON under names in the reports object store,
// as the stats user, which writes them in the fleet.
func storeReport(t *testing.T, n *natsEnv, rep report.Report, names ...string) {
	t.Helper()
	nc, _ := n.connect(t, "stats")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	obs, err := js.ObjectStore(ctx, topology.ObjectStoreReports)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.Write(&b, rep, report.JSON); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := obs.PutBytes(ctx, name, b.Bytes()); err != nil {
			t.Fatalf("store report %s: %v", name, err)
		}
	}
}
