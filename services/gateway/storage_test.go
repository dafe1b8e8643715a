package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// bound declares the topology again with opts, as a deployment with other
// SOCIALSYNC_LIMIT_* values does: the server applies it in place.
func (w *world) bound(t *testing.T, opts topology.Options) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := topology.New(opts).Ensure(ctx, w.JS); err != nil {
		t.Fatal(err)
	}
}

func (w *world) webhookPost(t *testing.T, loc, eventID string) answer {
	t.Helper()
	body := jsonBody(t, postEvent(loc, eventID))
	return w.do(t, http.MethodPost, "/v1/webhooks/posts", signed(testSecret, time.Now(), body), body)
}

// A location at its quota of unfinished post triggers is refused with 503
// and Retry-After, through the webhook and the trigger API alike; another
// location, and another kind of trigger of the same location, are taken.
func TestLocationQuotaRefusesOnlyThatLocation(t *testing.T) {
	w := start(t)
	if len(w.Locations) < 2 {
		t.Fatal("the demo seed has fewer than two locations")
	}
	locA, locB := w.Locations[0].ID, w.Locations[1].ID
	const quota = 2
	w.bound(t, topology.Options{MaxTriggersPerSubject: quota})

	for i := range quota {
		if a := w.webhookPost(t, locA, fmt.Sprintf("a-%d", i)); a.status != http.StatusAccepted {
			t.Fatalf("event %d of %s: %d %s", i, locA, a.status, a.body)
		}
	}
	a := w.webhookPost(t, locA, "a-over")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "30" || a.errorCode(t) != "location_quota" ||
		!contains(string(a.body), locA, "quota") {
		t.Fatalf("event over %s's quota: %d Retry-After %q %s; want 503, Retry-After 30, location_quota naming the location",
			locA, a.status, a.header.Get("Retry-After"), a.body)
	}
	api := w.api(t, http.MethodPost, "/v1/locations/"+locA+"/triggers/post", `{"postId":"p9"}`)
	if api.status != http.StatusServiceUnavailable || api.header.Get("Retry-After") == "" || api.errorCode(t) != "location_quota" {
		t.Errorf("trigger API over %s's quota: %d %s", locA, api.status, api.body)
	}
	if b := w.webhookPost(t, locB, "b-0"); b.status != http.StatusAccepted {
		t.Errorf("event of %s while %s is at its quota: %d %s", locB, locA, b.status, b.body)
	}
	if s := w.api(t, http.MethodPost, "/v1/locations/"+locA+"/triggers/stats", ""); s.status != http.StatusAccepted {
		t.Errorf("stats trigger of %s (another subject): %d %s", locA, s.status, s.body)
	}
	if got := len(w.triggers(t, locA)); got != quota {
		t.Errorf("%s has %d post triggers stored, want %d", locA, got, quota)
	}
	// The refused event was not remembered: once there is room, the
	// sender's retry is accepted, not answered as a duplicate.
	w.bound(t, topology.Options{MaxTriggersPerSubject: quota + 1})
	if a := w.webhookPost(t, locA, "a-over"); a.status != http.StatusAccepted {
		t.Errorf("retry of the refused event once there is room: %d %s", a.status, a.body)
	}
}

// A full triggers stream refuses every new trigger with 503 and
// Retry-After, keeping what it holds.
func TestFullTriggersStreamRefuses(t *testing.T) {
	w := start(t)
	w.bound(t, topology.Options{MaxMessageBytes: 1024, MaxBytes: map[string]int64{topology.StreamTriggers: 4096}})
	var stored int
	var a answer
	for i := range 100 {
		loc := w.Locations[i%len(w.Locations)].ID
		if a = w.webhookPost(t, loc, fmt.Sprintf("full-%d", i)); a.status != http.StatusAccepted {
			break
		}
		stored++
	}
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") != "60" || a.errorCode(t) != "stream_full" {
		t.Fatalf("after %d events: %d Retry-After %q %s; want 503, Retry-After 60, stream_full", stored, a.status, a.header.Get("Retry-After"), a.body)
	}
	if stored == 0 {
		t.Fatal("the stream took nothing")
	}
	if got := len(bustest.Messages(t, w.JS, topology.StreamTriggers, "socialsync.trigger.>")); got != stored {
		t.Errorf("the full stream holds %d triggers, want the %d accepted", got, stored)
	}
}

// A webhook event for a location that is not registered is refused with
// 422 naming it, and nothing is stored.
func TestWebhookRefusesUnregisteredLocation(t *testing.T) {
	w := start(t)
	a := w.webhookPost(t, "NotRegistered0123", "x-1")
	if a.status != http.StatusUnprocessableEntity || a.errorCode(t) != "unknown_location" || !contains(string(a.body), "NotRegistered0123", "not registered") {
		t.Fatalf("unregistered location: %d %s; want 422 unknown_location naming it", a.status, a.body)
	}
	if got := w.triggers(t, "NotRegistered0123"); len(got) != 0 {
		t.Errorf("%d triggers stored for the unregistered location", len(got))
	}
	api := w.api(t, http.MethodPost, "/v1/locations/NotRegistered0123/triggers/post", `{"postId":"p1"}`)
	if api.status != http.StatusNotFound || !contains(string(api.body), "NotRegistered0123", "not registered") {
		t.Errorf("trigger API for an unregistered location: %d %s; want 404 saying it is not registered", api.status, api.body)
	}
}

// Replaying a dead letter into a location at its quota answers 503 with
// Retry-After and keeps the dead letter.
func TestReplayIntoFullLocationRefused(t *testing.T) {
	w := start(t)
	loc := w.Locations[0].ID
	w.bound(t, topology.Options{MaxTriggersPerSubject: 1})
	if a := w.webhookPost(t, loc, "r-0"); a.status != http.StatusAccepted {
		t.Fatalf("first event: %d %s", a.status, a.body)
	}
	seq := w.deadLetter(t, "contactsync", loc, "socialsync.trigger.post."+loc,
		bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: loc, PostId: "post9", EventId: "dl-1"}))
	path := fmt.Sprintf("/v1/deadletters/%d", seq)
	a := w.api(t, http.MethodPost, path+"/replay", "")
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || a.errorCode(t) != "location_quota" || !contains(string(a.body), loc) {
		t.Fatalf("replay into %s at its quota: %d %s; want 503 location_quota naming it", loc, a.status, a.body)
	}
	if a := w.api(t, http.MethodGet, path, ""); a.status != http.StatusOK {
		t.Errorf("the dead letter after the refused replay: %d %s; want it kept", a.status, a.body)
	}
}
