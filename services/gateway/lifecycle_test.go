package gateway_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
)

// heldLocation is the part of a location's answer about its hold.
type heldLocation struct {
	ID   string
	Hold *struct {
		Reason        string
		By            string
		Triggers      uint64
		Since         time.Time
		RefusingSince time.Time
	}
}

type auditPage struct {
	Items []struct {
		Who, Action, Location, Detail string
	}
	NextCursor string
}

// checkLifecycle pauses and resumes loc through the API, as the contract
// test's part: a paused location shows its hold and the triggers kept,
// and both actions are in the audit log.
func (w *world) checkLifecycle(t *testing.T, k *contract, loc string) {
	t.Helper()
	var l heldLocation
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/pause", status: 200}).json(t, &l)
	if l.Hold == nil || l.Hold.Reason != "paused" || !strings.HasPrefix(l.Hold.By, "key:") {
		t.Fatalf("paused location: %+v", l.Hold)
	}
	// A paused location's triggers are kept.
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/triggers/stats", status: 202})
	k.do(t, w, call{method: "GET", path: "/v1/locations/" + loc, status: 200}).json(t, &l)
	if l.Hold == nil || l.Hold.Triggers == 0 {
		t.Errorf("paused location with a trigger kept: %+v", l.Hold)
	}
	var resumed heldLocation
	k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/resume", status: 200}).json(t, &resumed)
	if resumed.Hold != nil {
		t.Errorf("resumed location still held: %+v", resumed.Hold)
	}
	k.do(t, w, call{method: "POST", path: "/v1/locations/nope0/pause", status: 404})
	var a auditPage
	k.do(t, w, call{method: "GET", path: "/v1/audit?location=" + loc + "&limit=1", status: 200}).json(t, &a)
	if len(a.Items) != 1 || a.Items[0].Action != "resume" || a.NextCursor == "" {
		t.Fatalf("audit, newest first: %+v", a)
	}
	var older auditPage
	k.do(t, w, call{method: "GET", path: "/v1/audit?location=" + loc + "&cursor=" + a.NextCursor, status: 200}).json(t, &older)
	if len(older.Items) == 0 || older.Items[0].Action != "pause" || !strings.HasPrefix(older.Items[0].Who, "key:") {
		t.Errorf("audit, second page: %+v", older)
	}
	k.do(t, w, call{method: "GET", path: "/v1/audit?limit=0", status: 400, invalid: true})
}

// A location paused longer than SOCIALSYNC_PAUSE_MAX has its new triggers
// refused with 503 and a reason, through the API and the webhook alike;
// before that they are kept, and after a resume accepted again.
func TestHeldTooLongIsRefused(t *testing.T) {
	env := fleettest.Start(t, "demo")
	w := startEnv(t, env, func(c *gateway.Config) { c.PauseMax = time.Hour })
	loc := w.Locations[0].ID
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	w.gw.SetNow(func() time.Time { return *now.Load() })

	if a := w.api(t, "POST", "/v1/locations/"+loc+"/pause", ""); a.status != 200 {
		t.Fatalf("pause: %d %s", a.status, a.body)
	}
	if a := w.api(t, "POST", "/v1/locations/"+loc+"/triggers/stats", ""); a.status != 202 {
		t.Fatalf("trigger of a location paused a moment ago: %d %s", a.status, a.body)
	}
	later := start.Add(2 * time.Hour)
	now.Store(&later)
	var refused answer
	fleettest.Eventually(t, 10*time.Second, "503 for a location paused past SOCIALSYNC_PAUSE_MAX", func() bool {
		refused = w.api(t, "POST", "/v1/locations/"+loc+"/triggers/stats", "")
		return refused.status == http.StatusServiceUnavailable
	})
	if code := refused.errorCode(t); code != "location_held" || !strings.Contains(string(refused.body), "SOCIALSYNC_PAUSE_MAX") ||
		refused.header.Get("Retry-After") == "" {
		t.Errorf("refusal: %s %v", refused.body, refused.header)
	}
	body := `{"locationId":"` + loc + `","postId":"p9","eventId":"wh-9"}`
	if a := w.do(t, "POST", "/v1/webhooks/posts", http.Header{gateway.HeaderSignature: {gateway.Sign(testSecret, later, []byte(body))},
		"Content-Type": {"application/json"}}, []byte(body)); a.status != http.StatusServiceUnavailable {
		t.Errorf("webhook for a location paused too long: %d %s", a.status, a.body)
	}
	hl := `{"type":"ContactTagUpdate","locationId":"` + loc + `","id":"c9","tags":["vip"],"webhookId":"wh-hl-9"}`
	if a := w.do(t, "POST", "/v1/highlevel/webhooks", http.Header{gateway.HeaderHighLevelSignature: {base64.StdEncoding.EncodeToString(ed25519.Sign(hlTestKey, []byte(hl)))},
		"Content-Type": {"application/json"}}, []byte(hl)); a.status != http.StatusServiceUnavailable || a.errorCode(t) != "location_held" {
		t.Errorf("HighLevel webhook for a location paused too long: %d %s", a.status, a.body)
	}
	rec := httptest.NewRecorder()
	w.gd.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !regexp.MustCompile(`socialsync_gateway_held_refused_total\{[^}]*reason="pause_max"[^}]*\} [3-9]`).MatchString(rec.Body.String()) {
		t.Errorf("metrics lack the three refusals past SOCIALSYNC_PAUSE_MAX:\n%s", rec.Body.String())
	}
	var l heldLocation
	w.api(t, "GET", "/v1/locations/"+loc, "").json(t, &l)
	if l.Hold == nil || l.Hold.Triggers != 1 || !l.Hold.RefusingSince.Equal(l.Hold.Since.Add(time.Hour)) {
		t.Errorf("held location: %+v; want the one trigger kept", l.Hold)
	}

	if a := w.api(t, "POST", "/v1/locations/"+loc+"/resume", ""); a.status != 200 {
		t.Fatalf("resume: %d %s", a.status, a.body)
	}
	fleettest.Eventually(t, 10*time.Second, "202 once resumed", func() bool {
		return w.api(t, "POST", "/v1/locations/"+loc+"/triggers/stats", "").status == http.StatusAccepted
	})
}
