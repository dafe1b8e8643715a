package gateway_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

func postEvent(loc, eventID string) map[string]any {
	return map[string]any{"locationId": loc, "postId": "post1", "tagIds": []string{"tag1"}, "contactIds": []string{"c1", "c2"},
		"change": "CHANGE_CREATED", "eventId": eventID}
}

func signed(secret string, at time.Time, body []byte) http.Header {
	return http.Header{"Content-Type": {"application/json"}, gateway.HeaderSignature: {gateway.Sign(secret, at, body)}}
}

// triggers returns the post triggers stored for loc.
func (w *world) triggers(t *testing.T, loc string) []*socialsyncv1.PostEvent {
	t.Helper()
	return bustest.Decode[socialsyncv1.PostEvent](t, bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+loc))
}

func TestWebhook(t *testing.T) {
	w := start(t)
	loc := w.Locations[0].ID
	now := time.Now()
	valid := jsonBody(t, postEvent(loc, "crm-1"))

	// Valid: stored before the 202, its Nats-Msg-Id the eventId
	// namespaced by source and location.
	a := w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, valid), valid)
	if a.status != http.StatusAccepted || !contains(string(a.body), `"status":"accepted"`, `"eventId":"crm-1"`) {
		t.Fatalf("valid: %d %s", a.status, a.body)
	}
	msgs := bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+loc)
	if len(msgs) != 1 || msgs[0].Header.Get(bus.HeaderMsgID) != "default/"+loc+"/Y3JtLTE" {
		t.Fatalf("stored triggers: %+v", msgs)
	}
	ev := bustest.Decode[socialsyncv1.PostEvent](t, msgs)[0]
	if ev.GetPostId() != "post1" || len(ev.GetContactIds()) != 2 || ev.GetSource() != "default" {
		t.Errorf("stored event: %v", ev)
	}

	// A named source signs with its own secret, named by header or query.
	crm := jsonBody(t, postEvent(loc, "crm-2"))
	h := signed(crmSecret, now, crm)
	h.Set(gateway.HeaderSource, "crm")
	if a := w.do(t, http.MethodPost, "/v1/webhooks/posts", h, crm); a.status != http.StatusAccepted {
		t.Fatalf("crm source by header: %d %s", a.status, a.body)
	}
	crm3 := jsonBody(t, postEvent(loc, "crm-3"))
	if a := w.do(t, http.MethodPost, "/v1/webhooks/posts?source=crm", signed(crmSecret, now, crm3), crm3); a.status != http.StatusAccepted {
		t.Fatalf("crm source by query: %d %s", a.status, a.body)
	}
	if got := w.triggers(t, loc); len(got) != 3 || got[1].GetSource() != "crm" {
		t.Fatalf("after the crm events: %d triggers", len(got))
	}

	refused := func(name string, a gatewayAnswer, status int, code, says string) {
		t.Helper()
		if a.status != status || a.errorCode(t) != code || !strings.Contains(string(a.body), says) {
			t.Errorf("%s: %d %s; want %d %s saying %q", name, a.status, a.body, status, code, says)
		}
	}
	other := jsonBody(t, postEvent(loc, "crm-9"))
	// Unsigned.
	refused("unsigned", w.do(t, http.MethodPost, "/v1/webhooks/posts", http.Header{"Content-Type": {"application/json"}}, other),
		401, "bad_signature", "unsigned")
	// Bad signature: another secret, another body, the right secret of
	// another source.
	refused("wrong secret", w.do(t, http.MethodPost, "/v1/webhooks/posts", signed("whsec-not-the-right-one", now, other), other),
		401, "bad_signature", "bad signature")
	refused("body changed", w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, valid), other),
		401, "bad_signature", "bad signature")
	refused("other source's secret", w.do(t, http.MethodPost, "/v1/webhooks/posts?source=crm", signed(testSecret, now, other), other),
		401, "bad_signature", "bad signature")
	// An unknown source is answered exactly as a bad signature: the
	// answer does not tell which sources exist.
	unknown := w.do(t, http.MethodPost, "/v1/webhooks/posts?source=nobody", signed(testSecret, now, other), other)
	wrongSecret := w.do(t, http.MethodPost, "/v1/webhooks/posts?source=crm", signed(testSecret, now, other), other)
	refused("unknown source", unknown, 401, "bad_signature", "bad signature")
	if unknown.status != wrongSecret.status || string(unknown.body) != string(wrongSecret.body) || strings.Contains(string(unknown.body), "nobody") {
		t.Errorf("unknown source: %d %s; a known source's bad signature: %d %s; want the same answer", unknown.status, unknown.body, wrongSecret.status, wrongSecret.body)
	}
	for name, h := range map[string]http.Header{
		"unsigned":  {"Content-Type": {"application/json"}},
		"malformed": {"Content-Type": {"application/json"}, gateway.HeaderSignature: {"sha256=abc"}},
		"stale":     signed(testSecret, now.Add(-time.Hour), other),
	} {
		a := w.do(t, http.MethodPost, "/v1/webhooks/posts?source=nobody", h, other)
		b := w.do(t, http.MethodPost, "/v1/webhooks/posts?source=crm", h, other)
		if a.status != b.status || string(a.body) != string(b.body) {
			t.Errorf("%s: unknown source %d %s; known source %d %s; want the same answer", name, a.status, a.body, b.status, b.body)
		}
	}
	refused("bad source name", w.do(t, http.MethodPost, "/v1/webhooks/posts?source=a%20b", signed(testSecret, now, other), other),
		400, "bad_request", "source")
	garbled := signed(testSecret, now, other)
	garbled.Set(gateway.HeaderSignature, "sha256=abc")
	refused("garbled header", w.do(t, http.MethodPost, "/v1/webhooks/posts", garbled, other), 401, "bad_signature", "malformed")
	// Stale, either way.
	refused("stale", w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now.Add(-6*time.Minute), other), other),
		401, "bad_signature", "stale")
	refused("from the future", w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now.Add(6*time.Minute), other), other),
		401, "bad_signature", "stale")
	if got := w.triggers(t, loc); len(got) != 3 {
		t.Fatalf("refused requests published: %d triggers, want 3", len(got))
	}

	// Replayed: the same signed request again is answered as a duplicate
	// and stores nothing.
	a = w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, valid), valid)
	if a.status != http.StatusOK || !contains(string(a.body), `"status":"duplicate"`, `"eventId":"crm-1"`, `"sequence":`+strconv.FormatUint(msgs[0].Sequence, 10)) {
		t.Errorf("replayed: %d %s", a.status, a.body)
	}
	// The same event id with another signature time too.
	if a := w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now.Add(time.Second), valid), valid); a.status != http.StatusOK {
		t.Errorf("resent: %d %s", a.status, a.body)
	}
	if got := w.triggers(t, loc); len(got) != 3 {
		t.Fatalf("after the replays: %d triggers, want 3", len(got))
	}

	// Oversized: refused before anything else.
	big := jsonBody(t, map[string]any{"locationId": loc, "postId": "p", "eventId": "big", "tagIds": strings.Split(strings.Repeat("t,", 3000), ",")})
	refused("oversized", w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, big), big), 413, "too_large", "4096 bytes")

	// Malformed: signed, but not a post event.
	for name, body := range map[string]string{
		"not json":      `{"locationId":`,
		"unknown field": `{"locationId":"` + loc + `","postId":"p1","eventId":"e1","colour":"red"}`,
		"wrong type":    `{"locationId":"` + loc + `","postId":"p1","eventId":"e1","tagIds":"t1"}`,
		"trailing data": `{"locationId":"` + loc + `","postId":"p1","eventId":"e1"} {}`,
		"empty":         ``,
	} {
		refused("malformed: "+name, w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, []byte(body)), []byte(body)),
			400, "malformed", "")
	}
	for name, c := range map[string]struct{ body, says string }{
		"bad location": {`{"locationId":"loc.*","postId":"p1","eventId":"e1"}`, "locationId"},
		"no location":  {`{"postId":"p1","eventId":"e1"}`, "locationId"},
		"no event id":  {`{"locationId":"` + loc + `","postId":"p1"}`, "eventId: required"},
		"bad tag":      {`{"locationId":"` + loc + `","postId":"p1","eventId":"e1","tagIds":["a b"]}`, "tagIds[0]"},
		"renamed post": {`{"locationId":"` + loc + `","postId":"p1","eventId":"e1","change":"CHANGE_RENAMED"}`, "change"},
	} {
		refused("invalid: "+name, w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, now, []byte(c.body)), []byte(c.body)),
			422, "invalid", c.says)
	}
	wrongType := http.Header{"Content-Type": {"text/plain"}, gateway.HeaderSignature: {gateway.Sign(testSecret, now, valid)}}
	refused("not JSON content", w.do(t, http.MethodPost, "/v1/webhooks/posts", wrongType, valid), 415, "unsupported_media_type", "application/json")
	if got := w.triggers(t, loc); len(got) != 3 {
		t.Fatalf("after the refusals: %d triggers, want 3", len(got))
	}

	// Every answer is counted by route and status.
	rec := httptest.NewRecorder()
	w.gd.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, want := range []string{`route="POST /v1/webhooks/posts",status="401"`, `route="POST /v1/webhooks/posts",status="202"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// JetStream down: 429 with Retry-After, never a silent 2xx.
	w.Server.Shutdown()
	w.Server.WaitForShutdown()
	down := jsonBody(t, postEvent(loc, "crm-down"))
	a = w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, time.Now(), down), down)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" || a.errorCode(t) != "unavailable" {
		t.Errorf("JetStream down: %d %v %s", a.status, a.header, a.body)
	}
}

type gatewayAnswer = answer

// Secrets and keys, configured or presented, never appear in what the
// gateway answers or logs.
func TestSecretsStayOutOfAnswersAndLogs(t *testing.T) {
	var logs fleettest.Buffer
	w := startB(t, &logs)
	loc := w.Locations[0].ID
	const wrongSecret, wrongKey = "whsec-wrong-0123456789", "sk-presented-but-wrong"
	body := []byte(`{"locationId":"` + loc + `","postId":"p1","eventId":"s1"}`)
	answers := []answer{
		w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(wrongSecret, time.Now(), body), body),
		w.do(t, http.MethodPost, "/v1/webhooks/posts?source=crm", signed(testSecret, time.Now(), body), body),
		w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, time.Now().Add(-time.Hour), body), body),
		w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, time.Now(), body), body),
		w.do(t, http.MethodGet, "/v1/locations", http.Header{"Authorization": {"Bearer " + wrongKey}}, nil),
		w.api(t, http.MethodGet, "/v1/locations", ""),
		w.api(t, http.MethodGet, "/v1/pipeline", ""),
	}
	if answers[3].status != http.StatusAccepted {
		t.Fatalf("the signed request: %d %s", answers[3].status, answers[3].body)
	}
	if !strings.Contains(logs.String(), "webhook refused") {
		t.Fatalf("no refusal logged: %s", logs.String())
	}
	for _, secret := range []string{testSecret, crmSecret, testKey, wrongSecret, wrongKey, w.Locations[0].Token} {
		for _, a := range answers {
			if strings.Contains(string(a.body), secret) || strings.Contains(fmt.Sprint(a.header), secret) {
				t.Errorf("an answer reveals %q: %s", secret, a.body)
			}
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log reveals %q", secret)
		}
	}
}

// A sender's traceparent continues into the trigger the webhook stores, so
// the workers' spans join the sender's trace.
func TestWebhookContinuesTheSendersTrace(t *testing.T) {
	w := start(t)
	loc := w.Locations[0].ID
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	body := jsonBody(t, postEvent(loc, "traced-1"))
	h := signed(testSecret, time.Now(), body)
	h.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if a := w.do(t, http.MethodPost, "/v1/webhooks/posts", h, body); a.status != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", a.status, a.body)
	}
	msgs := bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.post."+loc)
	if len(msgs) != 1 {
		t.Fatalf("%d triggers stored, want 1", len(msgs))
	}
	if tp := msgs[0].Header.Get("traceparent"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
		t.Errorf("the stored trigger's traceparent is %q, want one in trace %s", tp, traceID)
	}
}

// The gateway's trigger endpoint and webhook accept a post id from another
// system ("crm-post-1", "Bestellung-ä/42") as every consumer does, and
// refuse with 422 naming the field what every consumer refuses (257
// bytes, a newline, an occurredAt far off).
func TestPostIDsFollowTheSharedRule(t *testing.T) {
	w := start(t)
	loc := w.Locations[0].ID
	now := time.Now()
	for i, c := range bustest.PostCases(loc, nil, []string{"c1"}, now) {
		body := func(eventID string) []byte {
			c.Event.EventId = eventID
			b, err := protojson.Marshal(c.Event)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		hooked := body(fmt.Sprintf("webhook-%d", i))
		h := signed(crmSecret, now, hooked)
		h.Set(gateway.HeaderSource, "crm")
		for _, a := range []struct {
			name string
			a    answer
		}{
			{"trigger", w.api(t, http.MethodPost, "/v1/locations/"+loc+"/triggers/post", string(body(fmt.Sprintf("trigger-%d", i))))},
			{"webhook", w.do(t, http.MethodPost, "/v1/webhooks/posts", h, hooked)},
		} {
			if c.Valid {
				if a.a.status != http.StatusAccepted {
					t.Errorf("%s, %s: %d %s, want 202", c.Name, a.name, a.a.status, a.a.body)
				}
				continue
			}
			var e struct {
				Error struct{ Code, Message, Field string }
			}
			a.a.json(t, &e)
			field := map[string]string{"post_id": "postId", "occurred_at": "occurredAt"}[c.Field]
			if a.a.status != http.StatusUnprocessableEntity || e.Error.Field != field ||
				!strings.HasPrefix(e.Error.Message, c.Marker(func(string) string { return field })+": want ") {
				t.Errorf("%s, %s: %d %s, want 422 naming %s and quoting %q", c.Name, a.name, a.a.status, a.a.body, field, c.Value)
			}
		}
	}
	posts := w.triggers(t, loc)
	var got []string
	for _, p := range posts {
		got = append(got, p.GetSource()+" "+p.GetPostId())
	}
	want := []string{"shop Bestellung-ä/42", "crm crm-post-1", "crm Bestellung-ä/42", "crm crm-post-1"}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(want, got) {
		t.Errorf("published post triggers %q, want %q", got, want)
	}
}
