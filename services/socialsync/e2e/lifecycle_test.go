package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
)

// apiLocation is what the gateway's GET /v1/locations/{loc} shows.
type apiLocation struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Token struct {
		Status string   `json:"status"`
		Scopes []string `json:"scopes"`
	} `json:"token"`
	Hold *struct {
		Reason   string `json:"reason"`
		Triggers uint64 `json:"triggers"`
	} `json:"hold"`
}

// lifecycleAPI calls the gateway's REST API with an admin key.
type lifecycleAPI struct {
	t   *testing.T
	url string
	key string
}

func (a lifecycleAPI) call(method, path string, in, out any) int {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, a.url+path, body)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

func (a lifecycleAPI) location(loc string) apiLocation {
	a.t.Helper()
	var l apiLocation
	if code := a.call(http.MethodGet, "/v1/locations/"+loc, nil, &l); code != http.StatusOK {
		return apiLocation{}
	}
	return l
}

// postTrigger asks, through the gateway, for a post event carrying tags
// for contacts; it must be accepted.
func (a lifecycleAPI) postTrigger(loc, eventID string, tags, contacts []string) {
	a.t.Helper()
	sum := sha256.Sum256([]byte(eventID))
	body := map[string]any{"postId": hex.EncodeToString(sum[:12]), "tagIds": tags, "contactIds": contacts, "eventId": eventID}
	if code := a.call(http.MethodPost, "/v1/locations/"+loc+"/triggers/post", body, nil); code != http.StatusAccepted {
		a.t.Fatalf("post trigger %s for %s: %d, want 202", eventID, loc, code)
	}
}

func (a lifecycleAPI) deadLetters() int {
	a.t.Helper()
	var dl struct {
		Total int `json:"total"`
	}
	if code := a.call(http.MethodGet, "/v1/deadletters", nil, &dl); code != http.StatusOK {
		a.t.Fatalf("GET /v1/deadletters: %d", code)
	}
	return dl.Total
}

func (a lifecycleAPI) audit(loc string) []string {
	a.t.Helper()
	var page struct {
		Items []struct {
			Who    string `json:"who"`
			Action string `json:"action"`
		} `json:"items"`
	}
	if code := a.call(http.MethodGet, "/v1/audit?location="+loc, nil, &page); code != http.StatusOK {
		a.t.Fatalf("GET /v1/audit: %d", code)
	}
	var out []string
	for _, e := range page.Items {
		out = append(out, e.Action+" by "+e.Who)
	}
	return out
}

// hostedCallback opens the gateway's OAuth callback as the browser would
// after the consent page, and returns its status and page.
func hostedCallback(t *testing.T, gwURL, callback string) (int, string) {
	t.Helper()
	if !strings.HasPrefix(callback, gwURL+"/oauth/callback?") {
		t.Fatalf("HighLevel redirects to %q, not to the gateway's callback", callback)
	}
	resp, err := http.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestLocationLifecycle runs issue 17's "Done means" on real processes:
// nats-server, the simulator (consent page on, sending its signed install
// webhooks), the gateway and every worker:
//   - a Marketplace-style install (the consent page's Approve, then the
//     gateway's hosted callback without a state) connects a location with
//     exactly the shipped scopes, which then syncs contact tags, tag details
//     and statistics;
//   - an agency connected through the hosted flow; INSTALL for its new
//     sub-account connects it with no person, UNINSTALL disconnects it:
//     later triggers are refused 410, nothing is dead-lettered;
//   - pause keeps the triggers published meanwhile (none handled, none
//     dead-lettered), resume handles them all;
//   - a location whose tokens HighLevel revokes pauses itself, keeping its
//     triggers, and resumes when it is connected again;
//   - remove --purge leaves no tag and no custom value socialsync applied;
//   - the audit log lists connect, pause, resume and remove.
func TestLocationLifecycle(t *testing.T) {
	f := newFleet(t)
	ctx := context.Background()
	app := f.app()
	rl := &relay{}
	relaySrv := httptest.NewServer(rl)
	defer relaySrv.Close()
	hooks := relaySrv.URL + "/v1/highlevel/webhooks"
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": hooks, "webhookRetry": "1s",
		"consentPage": true, "installWebhooks": true}, nil)

	a := f.firstLocation()
	// Tags of the test's own, in the catalogue before the location is connected.
	tagID := map[string]string{}
	for _, name := range []string{"E2E Paused", "E2E Revoked"} {
		var tag struct {
			ID string `json:"_id"`
		}
		f.admin(http.MethodPost, "/_sandbox/locations/"+a.ID+"/socialTags", map[string]any{"tag": name}, &tag)
		tagID[name] = tag.ID
	}
	before := contactTags(f.location(a.ID).Live())
	contacts := []string{a.Contacts[0].ID, a.Contacts[1].ID, a.Contacts[2].ID}

	gwAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	gwURL := "http://" + gwAddr
	const recheck = 3 * time.Second
	f.env = append(f.env, "SOCIALSYNC_GHL_CLIENT_ID="+app.ClientID, "SOCIALSYNC_GHL_CLIENT_SECRET="+app.ClientSecret,
		"SOCIALSYNC_GHL_AUTH_URL="+f.simURL+"/oauth/chooselocation", "SOCIALSYNC_PUBLIC_URL="+gwURL,
		"SOCIALSYNC_PAUSE_RECHECK="+recheck.String())
	key := sha256.Sum256([]byte("e2e-admin-key"))
	f.workerAt("gateway", gwAddr, "SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY="+app.WebhookKey,
		"SOCIALSYNC_API_KEY_HASHES="+hex.EncodeToString(key[:]))
	for _, w := range []string{"fetcher", "enricher", "stats", "contactsync", "automation"} {
		f.worker(w)
	}
	api := lifecycleAPI{t: t, url: gwURL, key: "e2e-admin-key"}
	eventually(t, 60*time.Second, "the gateway ready", func() bool {
		res, err := http.Get(gwURL + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	rl.mu.Lock()
	rl.gateway = gwURL
	rl.mu.Unlock()
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}

	// A Marketplace install: the person starts at HighLevel's page, so the
	// callback carries no state socialsync issued. The authorization URL
	// is the one `connect --hosted` prints, its state taken out.
	authURL, err := url.Parse(firstURL(f.cli("connect", "--hosted", "--location", a.ID, "--browser=false", "--nats", f.natsURL)))
	if err != nil || authURL.Query().Get("state") == "" {
		t.Fatalf("connect --hosted printed no authorization URL with a state: %v", err)
	}
	q := authURL.Query()
	q.Del("state")
	authURL.RawQuery = q.Encode()
	callback, shown := consent(t, authURL.String())
	shipped := ghl.ConnectScopes(ghl.UserTypeLocation)
	if !sameSet(strings.Fields(shown), shipped) {
		t.Errorf("the consent page asks for %q, want the shipped scopes %q", shown, shipped)
	}
	if code, page := hostedCallback(t, gwURL, callback); code != http.StatusOK || !strings.Contains(page, "Marketplace") {
		t.Fatalf("the Marketplace install's callback: %d\n%s", code, page)
	}
	installed := time.Now() // the token was obtained before the page answered
	l := api.location(a.ID)
	if l.State != "active" || l.Token.Status != "valid" || !sameSet(l.Token.Scopes, shipped) {
		t.Fatalf("after the Marketplace install: state %q, token %q with scopes %q; want active, valid, %q", l.State, l.Token.Status, l.Token.Scopes, shipped)
	}

	// It syncs: contact tags, tag details and statistics (whose
	// recommendations are socialsync_* custom values).
	socialTag := func(i int) string { return "social:" + strings.ToLower(a.SocialTags[i].Tag) }
	api.postTrigger(a.ID, "e2e-lifecycle-1", []string{a.SocialTags[0].ID, a.SocialTags[1].ID}, contacts)
	tagged := func(tag string) bool {
		got := contactTags(f.location(a.ID))
		for _, c := range contacts {
			if !slices.Contains(got[c], tag) {
				return false
			}
		}
		return true
	}
	eventually(t, 60*time.Second, "the post's tags on its contacts", func() bool { return tagged(socialTag(0)) && tagged(socialTag(1)) })
	eventually(t, 60*time.Second, "the tag details fetched", func() bool {
		for _, r := range f.log(a.ID) {
			if r.Method == http.MethodPost && strings.HasSuffix(strings.Split(r.Path, "?")[0], "/tags/details") && r.Status/100 == 2 {
				return true
			}
		}
		return false
	})
	if code := api.call(http.MethodPost, "/v1/locations/"+a.ID+"/triggers/stats", map[string]any{}, nil); code != http.StatusAccepted {
		t.Fatalf("stats trigger: %d", code)
	}
	history, err := js.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "a statistics snapshot and the recommendations' custom values", func() bool {
		keys, _ := history.Keys(ctx)
		return slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, a.ID+".") }) &&
			len(socialsyncValues(f.location(a.ID))) > 0
	})

	// An agency connected through the hosted flow; a sub-account created
	// later is installed by HighLevel's INSTALL webhook alone.
	callback, _ = consent(t, firstURL(f.cli("connect", "--hosted", "--user-type", "Company", "--browser=false", "--nats", f.natsURL)))
	if code, page := hostedCallback(t, gwURL, callback); code != http.StatusOK || !strings.Contains(page, "Agency") {
		t.Fatalf("the agency's callback: %d\n%s", code, page)
	}
	var sub struct {
		ID string `json:"id"`
	}
	f.admin(http.MethodPost, "/_sandbox/locations", map[string]any{"name": "E2E Sub-account", "timezone": "Europe/Paris"}, &sub)
	eventually(t, 60*time.Second, "the new sub-account connected by its INSTALL webhook", func() bool {
		l := api.location(sub.ID)
		return l.State == "active" && l.Token.Status == "valid"
	})
	if log := api.audit(sub.ID); !slices.Contains(log, "connect by webhook") {
		t.Errorf("the INSTALL's connection is not in the audit log as the webhook's: %q", log)
	}
	f.admin(http.MethodPost, "/_sandbox/locations/"+sub.ID+"/uninstall", nil, nil)
	eventually(t, 60*time.Second, "the sub-account disconnected by its UNINSTALL webhook", func() bool {
		return api.location(sub.ID).State == "uninstalled"
	})
	if code := api.call(http.MethodPost, "/v1/locations/"+sub.ID+"/triggers/stats", map[string]any{}, nil); code != http.StatusGone {
		t.Errorf("a trigger for the uninstalled sub-account: %d, want 410", code)
	}
	if n := api.deadLetters(); n != 0 {
		t.Errorf("%d dead letters after the install and the uninstall", n)
	}

	// Paused: its triggers are accepted and kept, none handled; resumed:
	// all handled.
	f.cli("locations", "pause", "--location", a.ID, "--nats", f.natsURL)
	eventually(t, 60*time.Second, "the location paused", func() bool {
		l := api.location(a.ID)
		return l.Hold != nil && l.Hold.Reason == "paused"
	})
	// A worker trusts what it read of a location record for 2 s (wall
	// clock, however loaded the machine): a trigger published later is
	// held by every worker.
	time.Sleep(holdStale)
	const held = 3
	for i := range held {
		api.postTrigger(a.ID, fmt.Sprintf("e2e-paused-%d", i), []string{tagID["E2E Paused"]}, contacts[i:i+1])
	}
	eventually(t, 60*time.Second, "the paused location holding its triggers", func() bool {
		l := api.location(a.ID)
		return l.Hold != nil && l.Hold.Triggers == held
	})
	handedBack(t, js, held, "every trigger kept while paused")
	if got := contactTags(f.location(a.ID)); slices.ContainsFunc(contacts, func(c string) bool { return slices.Contains(got[c], "social:e2e paused") }) {
		t.Fatalf("a trigger published while paused was handled: %v", got)
	}
	if n := api.deadLetters(); n != 0 {
		t.Fatalf("%d dead letters while paused", n)
	}
	if code := api.call(http.MethodPost, "/v1/locations/"+a.ID+"/resume", nil, nil); code != http.StatusOK {
		t.Fatalf("resume: %d", code)
	}
	eventually(t, 60*time.Second, "every trigger kept while paused handled", func() bool {
		info := contactsyncInfo(js)
		return tagged("social:e2e paused") && api.location(a.ID).Hold == nil && info != nil && info.NumAckPending == 0
	})

	// HighLevel revokes its tokens (the simulator's uninstall, its webhook
	// not sent: socialsync learns it from the refresh refused): the
	// location pauses itself, keeps its triggers, and goes on once it is
	// connected again, with no resume. A 401 to a token younger than the
	// unauthorized grace is taken for something other than the token
	// (creds.WithUnauthorizedGrace) and waits bus.AuthWait without a
	// refresh: the revocation comes after it, as it would in production.
	if wait := time.Until(installed.Add(creds.DefaultUnauthorizedGrace + time.Second)); wait > 0 {
		t.Logf("waiting %v for the token to be older than the unauthorized grace", wait.Round(time.Second))
		time.Sleep(wait)
	}
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": ""}, nil)
	f.admin(http.MethodPost, "/_sandbox/locations/"+a.ID+"/uninstall", nil, nil)
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"webhookUrl": hooks}, nil)
	api.postTrigger(a.ID, "e2e-revoked", []string{tagID["E2E Revoked"]}, contacts)
	eventually(t, 60*time.Second, "the location needing re-authorisation, held", func() bool {
		l := api.location(a.ID)
		return l.Token.Status == "needs_reauth" && l.Hold != nil && l.Hold.Reason == "needs_reauth"
	})
	// The message that found the revocation is held like the later ones:
	// handed back for SOCIALSYNC_PAUSE_RECHECK, not bus.AuthWait.
	handedBack(t, js, 1, "the trigger that found the tokens revoked")
	if tagged("social:e2e revoked") {
		t.Fatal("a trigger was handled with the tokens revoked")
	}
	callback, _ = consent(t, firstURL(f.cli("connect", "--hosted", "--location", a.ID, "--browser=false", "--nats", f.natsURL)))
	if code, page := hostedCallback(t, gwURL, callback); code != http.StatusOK {
		t.Fatalf("connecting again: %d\n%s", code, page)
	}
	eventually(t, 60*time.Second, "the trigger kept during re-authorisation handled", func() bool {
		return tagged("social:e2e revoked") && api.location(a.ID).Hold == nil
	})
	if n := api.deadLetters(); n != 0 {
		t.Errorf("%d dead letters after pause, resume and re-authorisation", n)
	}

	// Removed with --purge: the contacts carry the tags they had before
	// socialsync, and no socialsync_* custom value is left.
	out := f.cli("locations", "remove", "--location", a.ID, "--purge", "--purge-data", "--nats", f.natsURL)
	after := f.location(a.ID).Live()
	for c, tags := range contactTags(after) {
		if !sameSet(tags, before[c]) {
			t.Errorf("after remove --purge contact %s carries %q, before socialsync %q", c, tags, before[c])
		}
	}
	if left := socialsyncValues(after); len(left) > 0 {
		t.Errorf("after remove --purge the custom values %q are left", left)
	}
	if t.Failed() {
		t.Logf("remove --purge:\n%s", out)
	}

	log := api.audit(a.ID)
	for _, want := range []string{"connect", "pause", "resume", "remove"} {
		if !slices.ContainsFunc(log, func(e string) bool { return strings.HasPrefix(e, want+" by ") }) {
			t.Errorf("the audit log of %s has no %s: %q", a.ID, want, log)
		}
	}
	if cli := f.cli("audit", "--location", a.ID, "--nats", f.natsURL); !strings.Contains(cli, "remove") {
		t.Errorf("socialsync audit lists no remove:\n%s", cli)
	}
}

// holdStale is how long a worker may go on trusting a location record it
// read before the location was paused (fleet's heldTTL, docs/lifecycle.md),
// and a margin.
const holdStale = 2*time.Second + 500*time.Millisecond

// handedBack waits until contactsync's durable holds at least n messages
// it was given again without acknowledging them (none other pending when
// called): each was handed back by the hold check and delivered again,
// not handled.
func handedBack(t *testing.T, js jetstream.JetStream, n int, what string) {
	t.Helper()
	eventually(t, 60*time.Second, what+" handed back and delivered again", func() bool {
		info := contactsyncInfo(js)
		return info != nil && info.NumRedelivered >= n
	})
}

// contactsyncInfo is the state of contactsync's durable on the triggers
// stream (nil when it cannot be read).
func contactsyncInfo(js jetstream.JetStream) *jetstream.ConsumerInfo {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, topology.StreamTriggers, topology.DurableContactSync)
	if err != nil {
		return nil
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil
	}
	return info
}

// socialsyncValues names the location's custom values socialsync writes.
func socialsyncValues(d ghlsim.LocationView) []string {
	var out []string
	for _, cv := range d.CustomValues {
		if strings.HasPrefix(cv.Name, "socialsync_") {
			out = append(out, cv.Name)
		}
	}
	return out
}
