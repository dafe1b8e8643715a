package gateway_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

const hlPath = "/v1/highlevel/webhooks"

// hlKeys is a HighLevel signing key pair of a test, with the legacy RSA one.
type hlKeys struct {
	ed     ed25519.PrivateKey
	rsa    *rsa.PrivateKey
	edPEM  string
	rsaPEM string
}

func newHLKeys(t *testing.T) hlKeys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return hlKeys{ed: priv, rsa: r, edPEM: spki(t, pub), rsaPEM: spki(t, &r.PublicKey)}
}

func spki(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (k hlKeys) signed(body []byte) http.Header {
	return http.Header{"Content-Type": {"application/json"},
		gateway.HeaderHighLevelSignature: {base64.StdEncoding.EncodeToString(ed25519.Sign(k.ed, body))}}
}

func (k hlKeys) legacySigned(t *testing.T, body []byte) http.Header {
	t.Helper()
	d := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.rsa, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Content-Type": {"application/json"}, gateway.HeaderHighLevelLegacySignature: {base64.StdEncoding.EncodeToString(sig)}}
}

func tagUpdate(loc, contact, webhookID string, at time.Time, tags ...string) map[string]any {
	m := map[string]any{"type": "ContactTagUpdate", "locationId": loc, "id": contact, "tags": append([]string{}, tags...),
		"email": "someone@example.com", "phone": "+15550100", "timestamp": at.UTC().Format(time.RFC3339Nano)}
	if webhookID != "" {
		m["webhookId"] = webhookID
	}
	return m
}

// hlChanges returns the HighLevel contact changes stored for loc.
func (w *world) hlChanges(t *testing.T, loc string) []*socialsyncv1.HighLevelContactChanged {
	t.Helper()
	return bustest.Decode[socialsyncv1.HighLevelContactChanged](t,
		bustest.Messages(t, w.JS, topology.StreamTriggers, string(topology.HighLevelContactTriggers)+"."+loc))
}

func TestHighLevelWebhook(t *testing.T) {
	keys := newHLKeys(t)
	w := startEnv(t, fleettest.Start(t, "demo"), func(c *gateway.Config) { c.HighLevelWebhookKey = keys.edPEM })
	loc := w.Locations[0].ID
	now := time.Now()

	// Signed: stored, without the contact's personal details.
	body := jsonBody(t, tagUpdate(loc, "contact1", "wh-1", now, "vip", "social:launch"))
	a := w.do(t, http.MethodPost, hlPath, keys.signed(body), body)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"accepted"`, `"webhookId":"wh-1"`) {
		t.Fatalf("signed: %d %s", a.status, a.body)
	}
	got := w.hlChanges(t, loc)
	if len(got) != 1 || got[0].GetContactId() != "contact1" || got[0].GetChange() != socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS ||
		strings.Join(got[0].GetTags(), ",") != "vip,social:launch" || got[0].GetWebhookId() != "wh-1" || got[0].GetSentAt() == nil {
		t.Fatalf("stored: %v", got)
	}

	// Replayed: the same webhookId stores nothing, even with another
	// (validly signed) body and after the stream's duplicate window.
	again := jsonBody(t, tagUpdate(loc, "contact1", "wh-1", now.Add(time.Second), "vip"))
	a = w.do(t, http.MethodPost, hlPath, keys.signed(again), again)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"duplicate"`) {
		t.Errorf("replayed: %d %s", a.status, a.body)
	}

	// Badly signed, unsigned, signed by another key: 401, nothing stored.
	other := newHLKeys(t)
	for name, h := range map[string]http.Header{
		"other key": other.signed(body),
		"tampered":  keys.signed(append([]byte(" "), body...)),
		"unsigned":  {"Content-Type": {"application/json"}},
		"legacy":    keys.legacySigned(t, body),
	} {
		fresh := jsonBody(t, tagUpdate(loc, "contact2", "wh-"+name, now))
		a := w.do(t, http.MethodPost, hlPath, h, fresh)
		if a.status != http.StatusUnauthorized || a.errorCode(t) != "bad_signature" {
			t.Errorf("%s: %d %s", name, a.status, a.body)
		}
	}

	// Stale: a timestamp more than 75 minutes away either side.
	for _, at := range []time.Time{now.Add(-76 * time.Minute), now.Add(76 * time.Minute)} {
		stale := jsonBody(t, tagUpdate(loc, "contact2", "wh-stale-"+at.Format("150405"), at))
		a := w.do(t, http.MethodPost, hlPath, keys.signed(stale), stale)
		if a.status != http.StatusUnauthorized || a.errorCode(t) != "stale" {
			t.Errorf("stale %s: %d %s", at.Sub(now), a.status, a.body)
		}
	}
	// A retry 70 minutes late (HighLevel's sixth) is still inside.
	late := jsonBody(t, tagUpdate(loc, "contact2", "wh-late", now.Add(-70*time.Minute)))
	if a := w.do(t, http.MethodPost, hlPath, keys.signed(late), late); a.status != http.StatusOK {
		t.Errorf("70 minutes late: %d %s", a.status, a.body)
	}

	// Without webhookId: deduplicated on the body's hash.
	del := jsonBody(t, map[string]any{"type": "ContactDelete", "locationId": loc, "id": "contact3"})
	a = w.do(t, http.MethodPost, hlPath, keys.signed(del), del)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"accepted"`, `"webhookId":"body:`) {
		t.Fatalf("no webhookId: %d %s", a.status, a.body)
	}
	a = w.do(t, http.MethodPost, hlPath, keys.signed(del), del)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"duplicate"`) {
		t.Errorf("no webhookId, again: %d %s", a.status, a.body)
	}

	// A ContactTagUpdate without tags is refused: it does not say the
	// contact has none.
	noTags := jsonBody(t, map[string]any{"type": "ContactTagUpdate", "locationId": loc, "id": "contact9", "webhookId": "wh-notags"})
	if a := w.do(t, http.MethodPost, hlPath, keys.signed(noTags), noTags); a.status != http.StatusUnprocessableEntity {
		t.Errorf("no tags: %d %s", a.status, a.body)
	}

	// Unknown types: 200, ignored, stored nowhere.
	appt := jsonBody(t, map[string]any{"type": "AppointmentCreate", "locationId": loc, "webhookId": "wh-appointment"})
	a = w.do(t, http.MethodPost, hlPath, keys.signed(appt), appt)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"ignored"`) {
		t.Errorf("AppointmentCreate: %d %s", a.status, a.body)
	}
	// INSTALL is acted on by the worker that holds the credentials; with
	// none running, 429: HighLevel delivers it again.
	install := jsonBody(t, map[string]any{"type": "INSTALL", "locationId": loc, "webhookId": "wh-install"})
	a = w.do(t, http.MethodPost, hlPath, keys.signed(install), install)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("INSTALL without a worker: %d %s", a.status, a.body)
	}

	// A location socialsync was not given: ignored, stored nowhere.
	stranger := jsonBody(t, tagUpdate("NotRegistered00000001", "contact1", "wh-stranger", now, "vip"))
	a = w.do(t, http.MethodPost, hlPath, keys.signed(stranger), stranger)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"ignored"`) {
		t.Errorf("unregistered location: %d %s", a.status, a.body)
	}
	rec := httptest.NewRecorder()
	w.gd.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`reason="type",type="AppointmentCreate"`, `reason="unregistered_location",type="ContactTagUpdate"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	got = w.hlChanges(t, loc)
	if len(got) != 3 || got[2].GetChange() != socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_DELETED || got[2].GetTags() != nil {
		t.Fatalf("stored after all: %v", got)
	}
	for _, ev := range got {
		if strings.Contains(ev.String(), "example.com") || strings.Contains(ev.String(), "5550100") {
			t.Errorf("personal details stored: %v", ev)
		}
	}

	// A location at its quota of unfinished triggers: 429, which
	// HighLevel retries (a 503 it would not).
	ctx := context.Background()
	st, err := w.JS.Stream(ctx, topology.StreamTriggers)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	quota := cfg.MaxMsgsPerSubject
	cfg.MaxMsgsPerSubject = 3
	if _, err := w.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	full := jsonBody(t, tagUpdate(loc, "contact4", "wh-full", now))
	a = w.do(t, http.MethodPost, hlPath, keys.signed(full), full)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("quota full: %d %v %s", a.status, a.header, a.body)
	}
	// Not remembered: HighLevel's retry is stored once there is room.
	cfg.MaxMsgsPerSubject = quota
	if _, err := w.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a = w.do(t, http.MethodPost, hlPath, keys.signed(full), full)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"accepted"`) {
		t.Errorf("retry after quota: %d %s", a.status, a.body)
	}

	// JetStream down: 429.
	w.Server.Shutdown()
	w.Server.WaitForShutdown()
	down := jsonBody(t, tagUpdate(loc, "contact5", "wh-down", now))
	a = w.do(t, http.MethodPost, hlPath, keys.signed(down), down)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("JetStream down: %d %v %s", a.status, a.header, a.body)
	}
}

// The legacy RSA signature is accepted only when its key is configured,
// and never in place of a bad Ed25519 one.
func TestHighLevelLegacySignature(t *testing.T) {
	keys := newHLKeys(t)
	w := startEnv(t, fleettest.Start(t, "demo"), func(c *gateway.Config) {
		c.HighLevelWebhookKey, c.HighLevelWebhookLegacyKey = keys.edPEM, keys.rsaPEM
	})
	loc := w.Locations[0].ID
	body := jsonBody(t, tagUpdate(loc, "contact1", "wh-legacy", time.Now(), "vip"))
	if a := w.do(t, http.MethodPost, hlPath, keys.legacySigned(t, body), body); a.status != http.StatusOK {
		t.Errorf("legacy: %d %s", a.status, a.body)
	}
	both := jsonBody(t, tagUpdate(loc, "contact1", "wh-both", time.Now(), "vip"))
	h := keys.legacySigned(t, both)
	h.Set(gateway.HeaderHighLevelSignature, base64.StdEncoding.EncodeToString(ed25519.Sign(keys.ed, []byte("other"))))
	if a := w.do(t, http.MethodPost, hlPath, h, both); a.status != http.StatusUnauthorized {
		t.Errorf("bad Ed25519 beside a good legacy signature: %d %s", a.status, a.body)
	}
}

// Without a key the endpoint is off; a bad key stops the gateway naming
// its variable.
func TestHighLevelWebhookConfig(t *testing.T) {
	env := fleettest.Start(t, "demo")
	w := startEnv(t, env, func(c *gateway.Config) { c.HighLevelWebhookKey = "" })
	keys := newHLKeys(t)
	body := jsonBody(t, tagUpdate(w.Locations[0].ID, "contact1", "wh-1", time.Now()))
	if a := w.do(t, http.MethodPost, hlPath, keys.signed(body), body); a.status != http.StatusNotFound {
		t.Errorf("no key: %d %s", a.status, a.body)
	}
	for name, tc := range map[string]struct{ ed, legacy, want string }{
		"not a key":         {ed: "not-a-key", want: "SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY"},
		"rsa as ed25519":    {ed: keys.rsaPEM, want: "SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY"},
		"ed25519 as legacy": {ed: keys.edPEM, legacy: keys.edPEM, want: "SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY"},
		"legacy alone":      {legacy: keys.rsaPEM, want: "SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY"},
	} {
		cfg := testConfig(w.gd)
		cfg.HighLevelWebhookKey, cfg.HighLevelWebhookLegacyKey = tc.ed, tc.legacy
		_, err := gateway.New(cfg, w.gd)
		if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "PUBLIC KEY") {
			t.Errorf("%s: the error quotes the key: %v", name, err)
		}
	}
}
