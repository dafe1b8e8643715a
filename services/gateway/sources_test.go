package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/sources"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/gateway"
)

const (
	shopSecret   = "whsec-shop-abcdefghijklmnop"
	agencySecret = "whsec-agency-abcdefghijklm"
	looseSecret  = "whsec-loose-abcdefghijklmn"
)

// startSources starts a gateway whose sources are "default" (the legacy
// secret), crm (bound to the demo locations), shop, agency and loose.
func startSources(t *testing.T) (*world, *fleettest.Buffer) {
	t.Helper()
	var logs fleettest.Buffer
	env := fleettest.Start(t, "demo")
	if len(env.Locations) < 3 {
		t.Fatalf("the demo seed has %d locations, the test needs 3", len(env.Locations))
	}
	w := startEnv(t, env, func(c *gateway.Config) {
		c.WebhookSecrets += ",shop:" + shopSecret + ",agency:" + agencySecret + ",loose:" + looseSecret
	}, &logs)
	return w, &logs
}

// post sends ev as source, signed with secret, and returns the answer.
func (w *world) post(t *testing.T, source, secret string, ev map[string]any) answer {
	t.Helper()
	body := jsonBody(t, ev)
	h := signed(secret, time.Now(), body)
	if source != "" {
		h.Set(gateway.HeaderSource, source)
	}
	return w.do(t, http.MethodPost, "/v1/webhooks/posts", h, body)
}

func wantRefusal(t *testing.T, name string, a answer, status int, code string, says ...string) {
	t.Helper()
	if a.status != status || a.errorCode(t) != code || !contains(string(a.body), says...) {
		t.Errorf("%s: %d %s; want %d %s saying %q", name, a.status, a.body, status, code, says)
	}
}

// setLocation rewrites loc's record with change, as the connect flow
// would.
func setLocation(t *testing.T, w *world, loc string, change func(*creds.Location)) {
	t.Helper()
	ctx := context.Background()
	l, err := w.Deps.Creds.Location(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	change(&l)
	kv, err := w.JS.KeyValue(ctx, topology.BucketLocations)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(l)
	if _, err := kv.Put(ctx, loc, b); err != nil {
		t.Fatal(err)
	}
}

// A source speaks only for the locations its binding names, or those of
// the companies it names: others get 403, unregistered locations 422, a
// location being connected 503 with Retry-After. The legacy secret speaks
// for every registered location, with a warning at start.
func TestWebhookSourcesAreBoundToLocations(t *testing.T) {
	w, logs := startSources(t)
	a, b, c := w.Locations[0].ID, w.Locations[1].ID, w.Locations[2].ID
	const unregistered = "NotRegistered0000001"
	bind(t, w.Env, "shop", a)
	store, err := sources.Open(context.Background(), w.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Put(context.Background(), "agency", nil, []string{"CO1"}); err != nil {
		t.Fatal(err)
	}
	setLocation(t, w, b, func(l *creds.Location) { l.CompanyID = "CO1" })

	// The warnings at start: the legacy secret, and the sources with a
	// secret and no binding (shop and agency were bound after the start).
	for _, want := range []string{"legacy SOCIALSYNC_WEBHOOK_SECRET (source default) speaks for every registered location", "sources=agency,loose,shop"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the start log lacks %q:\n%s", want, logs.String())
		}
	}

	// Bound to a location: that one, and no other.
	if got := w.post(t, "shop", shopSecret, postEvent(a, "s-1")); got.status != http.StatusAccepted {
		t.Errorf("shop for its location: %d %s", got.status, got.body)
	}
	wantRefusal(t, "shop for another location", w.post(t, "shop", shopSecret, postEvent(b, "s-2")), 403, "forbidden_location", "source shop may not speak for location "+b)
	// An unregistered location outside a location-only binding is refused
	// the same way: the answer does not tell whether it exists.
	wantRefusal(t, "shop for an unregistered location", w.post(t, "shop", shopSecret, postEvent(unregistered, "s-3")), 403, "forbidden_location")
	// One its binding names but that is not registered (yet): 422.
	bind(t, w.Env, "shop", unregistered)
	wantRefusal(t, "shop for its unregistered location", w.post(t, "shop", shopSecret, postEvent(unregistered, "s-5")), 422, "unknown_location", "not registered")

	// Bound to a company: its locations, present and future.
	if got := w.post(t, "agency", agencySecret, postEvent(b, "g-1")); got.status != http.StatusAccepted {
		t.Errorf("agency for its company's location: %d %s", got.status, got.body)
	}
	wantRefusal(t, "agency for a location of no company", w.post(t, "agency", agencySecret, postEvent(a, "g-2")), 403, "forbidden_location")
	wantRefusal(t, "agency for an unregistered location", w.post(t, "agency", agencySecret, postEvent(unregistered, "g-3")), 422, "unknown_location", "not registered")
	setLocation(t, w, c, func(l *creds.Location) { l.CompanyID = "CO1" })
	if got := w.post(t, "agency", agencySecret, postEvent(c, "g-4")); got.status != http.StatusAccepted {
		t.Errorf("agency for a location that joined its company: %d %s", got.status, got.body)
	}

	// A source with a secret and no binding speaks for nothing.
	wantRefusal(t, "unbound source", w.post(t, "loose", looseSecret, postEvent(a, "l-1")), 403, "source_unbound", "socialsync sources bind loose")

	// The legacy secret: every registered location.
	for _, loc := range []string{a, b, c} {
		if got := w.post(t, "", testSecret, postEvent(loc, "d-1")); got.status != http.StatusAccepted {
			t.Errorf("legacy secret for %s: %d %s", loc, got.status, got.body)
		}
	}
	wantRefusal(t, "legacy secret, unregistered location", w.post(t, "", testSecret, postEvent(unregistered, "d-2")), 422, "unknown_location")

	// A location being connected: retry later, nothing stored.
	setLocation(t, w, c, func(l *creds.Location) { l.State = creds.StateConnecting })
	for name, got := range map[string]answer{
		"legacy": w.post(t, "", testSecret, postEvent(c, "d-3")),
		"agency": w.post(t, "agency", agencySecret, postEvent(c, "g-5")),
	} {
		wantRefusal(t, "connecting, "+name, got, 503, "location_connecting", "being connected")
		if got.header.Get("Retry-After") == "" {
			t.Errorf("connecting, %s: no Retry-After", name)
		}
	}

	// Binding the default source limits the legacy secret too.
	bind(t, w.Env, "default", a)
	wantRefusal(t, "bound legacy secret elsewhere", w.post(t, "", testSecret, postEvent(b, "d-4")), 403, "forbidden_location")
	// Removing a binding: the source speaks for nothing again.
	if err := store.Delete(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, "shop unbound", w.post(t, "shop", shopSecret, postEvent(a, "s-4")), 403, "source_unbound")

	want := map[string]int{a: 2, b: 2, c: 2}
	for loc, n := range want {
		if got := len(w.triggers(t, loc)); got != n {
			t.Errorf("%s: %d triggers stored, want %d (refusals store nothing)", loc, got, n)
		}
	}
}

// Event ids are namespaced by source and location: one source's 1001 does
// not suppress another's, nor the same source's for another location, and
// a duplicate answer tells only of the source's own event. Ids with a
// prefix socialsync reserves are refused, from webhooks and the API.
func TestEventIDsAreNamespaced(t *testing.T) {
	w, _ := startSources(t)
	a, b := w.Locations[0].ID, w.Locations[1].ID
	bind(t, w.Env, "shop", a, b)

	crm := w.post(t, "crm", crmSecret, postEvent(a, "1001"))
	shop := w.post(t, "shop", shopSecret, postEvent(a, "1001"))
	for name, got := range map[string]answer{"crm": crm, "shop": shop} {
		if got.status != http.StatusAccepted {
			t.Errorf("%s's 1001: %d %s, want 202", name, got.status, got.body)
		}
	}
	if got := w.post(t, "crm", crmSecret, postEvent(b, "1001")); got.status != http.StatusAccepted {
		t.Errorf("crm's 1001 for another location: %d %s", got.status, got.body)
	}
	var first, again struct {
		Status   string
		Subject  string
		Sequence uint64
	}
	shop.json(t, &first)
	dup := w.post(t, "shop", shopSecret, postEvent(a, "1001"))
	dup.json(t, &again)
	if dup.status != http.StatusOK || again.Status != "duplicate" || again.Sequence != first.Sequence || again.Subject != first.Subject {
		t.Errorf("shop's 1001 again: %d %s; want a duplicate of its own (%+v)", dup.status, dup.body, first)
	}
	msgs := bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+a)
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.Header.Get(bus.HeaderMsgID))
	}
	if len(msgs) != 2 || ids[0] != "crm/"+a+"/MTAwMQ" || ids[1] != "shop/"+a+"/MTAwMQ" {
		t.Errorf("Nats-Msg-Ids of %s's triggers: %q", a, ids)
	}

	// Reserved prefixes: refused, whoever sends them.
	for _, id := range []string{"refresh:" + a + ":1", "poll:" + a + ":p:t", "replay:7"} {
		wantRefusal(t, "webhook "+id, w.post(t, "crm", crmSecret, postEvent(a, id)), 422, "invalid", "eventId", "reserves")
		for _, path := range []string{"/triggers/post", "/triggers/stats", "/triggers/tagdetails"} {
			body := `{"eventId":"` + id + `","tagIds":["t1"]}`
			if path == "/triggers/post" {
				body = `{"postId":"p1","eventId":"` + id + `"}`
			} else if path == "/triggers/stats" {
				body = `{"eventId":"` + id + `"}`
			}
			wantRefusal(t, "API "+path+" "+id, w.api(t, http.MethodPost, "/v1/locations/"+a+path, body), 422, "invalid", "eventId")
		}
	}
	// API event ids are bounded as the webhook's.
	wantRefusal(t, "API event id too long", w.api(t, http.MethodPost, "/v1/locations/"+a+"/triggers/stats", `{"eventId":"`+strings.Repeat("x", 257)+`"}`),
		422, "invalid", "eventId")
	wantRefusal(t, "API event id with a control character", w.api(t, http.MethodPost, "/v1/locations/"+a+"/triggers/stats", `{"eventId":"a\u0007b"}`),
		422, "invalid", "eventId")

	// The API's 1001 is its own: the webhooks' do not suppress it.
	api := w.api(t, http.MethodPost, "/v1/locations/"+a+"/triggers/post", `{"postId":"p1","eventId":"1001"}`)
	if api.status != http.StatusAccepted || strings.Contains(string(api.body), `"duplicate":true`) {
		t.Fatalf("API's 1001: %d %s", api.status, api.body)
	}
	msgs = bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+a)
	if got := msgs[len(msgs)-1].Header.Get(bus.HeaderMsgID); got != "api/"+a+"/MTAwMQ" {
		t.Errorf("the API trigger's Nats-Msg-Id is %q, want api/%s/MTAwMQ", got, a)
	}
}

// checkSources calls the admin routes of webhook sources.
func (w *world) checkSources(t *testing.T, k *contract) {
	t.Helper()
	loc := w.Locations[0].ID
	var list struct {
		Sources []struct {
			Source    string
			Locations []string
			Secret    bool
		}
		Unbound []string
	}
	k.do(t, w, call{method: "GET", path: "/v1/sources", status: 200}).json(t, &list)
	if len(list.Sources) != 1 || list.Sources[0].Source != "crm" || !list.Sources[0].Secret || len(list.Unbound) != 1 || list.Unbound[0] != "default" {
		t.Errorf("sources: %+v", list)
	}
	a := k.do(t, w, call{method: "PUT", path: "/v1/sources/shop", body: `{"locations":["` + loc + `"],"companies":["CO1"]}`, status: 200})
	if !contains(string(a.body), `"source":"shop"`, `"locations":["`+loc+`"]`, `"companies":["CO1"]`, `"secret":false`) {
		t.Errorf("put shop: %s", a.body)
	}
	k.do(t, w, call{method: "GET", path: "/v1/sources/shop", status: 200})
	k.do(t, w, call{method: "PUT", path: "/v1/sources/shop", body: `{"locations":["a.b"]}`, status: 422, invalid: true})
	k.do(t, w, call{method: "PUT", path: "/v1/sources/shop", body: `{}`, status: 422})
	k.do(t, w, call{method: "GET", path: "/v1/sources/a.b", status: 400, invalid: true})
	k.do(t, w, call{method: "DELETE", path: "/v1/sources/shop", status: 204})
	k.do(t, w, call{method: "DELETE", path: "/v1/sources/shop", status: 404})
	k.do(t, w, call{method: "GET", path: "/v1/sources/shop", status: 404})
}
