// The gateway runs as the gateway NATS user through every endpoint that
// touches NATS.

package deploy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// TestGatewayWithItsOwnUser runs the fetcher and the gateway, each as its
// own user, and calls every gateway endpoint that touches NATS: locations,
// tags, statistics, triggers, dead letters (list, replay), pipeline health,
// the live event stream, a signed webhook. Each answers as it should and
// the server logs no permissions violation.
func TestGatewayWithItsOwnUser(t *testing.T) {
	n := startNATS(t)
	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	key := creds.NewKey()
	t.Setenv("SOCIALSYNC_TOKEN_KEY", key)
	loc := sim.Locations()[0]
	n.operatorRun(t, "locations", "add", "--location", loc.ID, "--pit", loc.Token, "--timezone", "UTC")

	fd := n.deps(t, "fetcher", simSrv.URL, key)
	fcfg := defaults[fetcher.Config](t)
	fcfg.Config = fd.Config
	fw, err := cli.NewFetcher(context.Background(), fcfg, fd)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.RunWorker(t, fd, "fetcher", fw)

	const apiKey, webhookSecret = "sk-test-0123456789abcdef", "whsec-default-0123456789"
	gd := n.deps(t, "gateway", simSrv.URL, key)
	gcfg := defaults[gateway.Config](t)
	gcfg.Config, gcfg.APIKeyHashes, gcfg.WebhookSecret = gd.Config, gateway.HashAPIKey(apiKey), webhookSecret
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
			t.Fatalf("%s %s: %v", method, path, err)
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
	for _, c := range []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/v1/locations", "", 200, loc.ID},
		{"GET", "/v1/locations/" + loc.ID, "", 200, loc.ID},
		{"GET", "/v1/locations/" + loc.ID + "/tags", "", 200, "items"},
		{"GET", "/v1/locations/" + loc.ID + "/stats", "", 200, "items"},
		{"POST", "/v1/locations/" + loc.ID + "/triggers/post", `{"postId":"p1"}`, 202, "socialsync.trigger.post."},
		{"POST", "/v1/locations/" + loc.ID + "/triggers/stats", `{}`, 202, "socialsync.trigger.stats."},
		{"GET", "/v1/pipeline", "", 200, "SOCIALSYNC_TRIGGERS"},
		{"GET", fmt.Sprintf("/v1/deadletters/%d", seq), "", 200, "bad_input"},
		{"POST", fmt.Sprintf("/v1/deadletters/%d/replay", seq), "", 200, "socialsync.refresh.catalogue."},
		{"GET", "/v1/events", "", 200, "socialsync.event.tag."},
	} {
		if st, body := call(c.method, c.path, c.body, nil); st != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s %s: %d %.300s; want %d with %q", c.method, c.path, st, body, c.status, c.contains)
		}
	}
	body := `{"locationId":"` + loc.ID + `","postId":"p2","eventId":"ev-1"}`
	if st, b := call("POST", "/v1/webhooks/posts", body, map[string]string{
		gateway.HeaderSignature: gateway.Sign(webhookSecret, time.Now(), []byte(body))}); st != 202 {
		t.Errorf("webhook: %d %s, want 202", st, b)
	}
	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations while the gateway served:\n%s", strings.Join(v, "\n"))
	}
}
