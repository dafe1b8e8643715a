package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/sources"
	"github.com/socialsync/socialsync/services/gateway"
)

const (
	testKey    = "sk-test-0123456789abcdef"
	testSecret = "whsec-default-0123456789"
	crmSecret  = "whsec-crm-abcdefghijklmnop"
)

// world is a gateway over a real JetStream server and the simulator,
// served over HTTP on loopback.
type world struct {
	*fleettest.Env
	gw  *gateway.Gateway
	srv *httptest.Server
	cfg gateway.Config
	// gd is the gateway's own process: no token key, its own telemetry.
	gd *fleet.Deps
}

// gatewayDeps connects the gateway's process to env's NATS as
// production does: with no token key and no client secret.
func gatewayDeps(t testing.TB, env *fleettest.Env) *fleet.Deps {
	t.Helper()
	return env.ConnectWithoutTokens(t, "gateway")
}

// hlTestKey signs the HighLevel webhooks of the tests that do not make
// their own key; testConfig gives its public key in the raw base64 form.
var hlTestKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// testConfig is the gateway configuration of the tests, over d's.
func testConfig(d *fleet.Deps) gateway.Config {
	cfg := gateway.Config{
		Config:              d.Config,
		HighLevelWebhookKey: base64.StdEncoding.EncodeToString(hlTestKey.Public().(ed25519.PublicKey)),
		WebhookSecret:       testSecret,
		WebhookSecrets:      "crm:" + crmSecret,
		APIKeyHashes:        gateway.HashAPIKey(testKey),
		WebhookMaxBytes:     4096,
		WebhookTolerance:    5 * time.Minute,
		PublishTimeout:      time.Second,
		BodyTimeout:         10 * time.Second,
		MaxSSEClients:       100,
		// As envconfig's default.
		TrustIncomingTrace: true,
		// The hosted OAuth flow's URLs (POST /v1/oauth/authorizations).
		PublicURL: "https://socialsync.example",
	}
	cfg.Config.GHLClientID = "test-client-id"
	return cfg
}

func start(t *testing.T) *world { return startB(t) }

func startB(t testing.TB, logTo ...io.Writer) *world {
	t.Helper()
	return startEnv(t, fleettest.Start(t, "demo"), nil, logTo...)
}

// startEnv starts a gateway on env, with testConfig altered by change
// (when not nil).
func startEnv(t testing.TB, env *fleettest.Env, change func(*gateway.Config), logTo ...io.Writer) *world {
	t.Helper()
	if len(logTo) > 0 {
		env.Deps.Log = slog.New(slog.NewTextHandler(io.MultiWriter(logTo...), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	deps := gatewayDeps(t, env)
	cfg := testConfig(deps)
	if change != nil {
		change(&cfg)
	}
	// The "crm" source speaks for the demo locations.
	var demo []string
	for _, l := range env.Locations {
		demo = append(demo, l.ID)
	}
	bind(t, env, "crm", demo...)
	g, err := gateway.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return &world{Env: env, gw: g, srv: srv, cfg: cfg, gd: deps}
}

// bind binds webhook source to locs, as `socialsync sources bind` does.
func bind(t testing.TB, env *fleettest.Env, source string, locs ...string) {
	t.Helper()
	s, err := sources.Open(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(context.Background(), source, func(b *sources.Binding, _ bool) error {
		b.Add(locs, nil)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// answer is a decoded response.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// errorCode returns the code of a JSON error body, failing when the body
// is not one.
func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	a.json(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not a JSON error: %s", a.body)
	}
	return e.Error.Code
}

func (w *world) do(t *testing.T, method, path string, header http.Header, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// api calls the API with the test key.
func (w *world) api(t *testing.T, method, path, body string) answer {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + testKey}}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	return w.do(t, method, path, h, []byte(body))
}

func jsonBody(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
