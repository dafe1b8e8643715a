package ghlsim

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// receiver is an app's webhook URL: it keeps every delivery, answering
// 429 to the first refuse ones.
type receiver struct {
	mu     sync.Mutex
	got    []delivered
	refuse int
}

type delivered struct {
	body []byte
	sig  string
	at   time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = append(rc.got, delivered{body: b, sig: r.Header.Get("X-GHL-Signature"), at: time.Now()})
	if rc.refuse > 0 {
		rc.refuse--
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// wait returns the first n deliveries once they arrived.
func (rc *receiver) wait(t *testing.T, n int) []delivered {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc.mu.Lock()
		got := slices.Clone(rc.got)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d webhook deliveries, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The simulator sends ContactTagUpdate when a contact's tags change
// through the API and ContactDelete when the admin API deletes it, each
// with a webhookId and a timestamp, signed with the key GET /_sandbox/apps
// publishes; a delivery answered 429 is sent again.
func TestWebhooks(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	c := e.newContact(loc.ID, "existing")
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)

	// No URL: nothing is sent.
	e.api("POST", "/contacts/"+c.ID+"/tags", loc.Token, ghl.ContactTags{Tags: []string{"before"}}).want(t, http.StatusCreated)

	e.setConfig(`{"webhookUrl":"` + srv.URL + `","webhookRetry":"10ms"}`)
	var apps struct {
		WebhookPublicKey string `json:"webhookPublicKey"`
	}
	e.admin("GET", "/_sandbox/apps", nil).want(t, http.StatusOK).decode(t, &apps)
	block, _ := pem.Decode([]byte(apps.WebhookPublicKey))
	if block == nil {
		t.Fatalf("webhookPublicKey = %q, want a PEM block", apps.WebhookPublicKey)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key := pub.(ed25519.PublicKey)

	e.api("POST", "/contacts/"+c.ID+"/tags", loc.Token, ghl.ContactTags{Tags: []string{"Social:Launch"}}).want(t, http.StatusCreated)
	// Adding a tag the contact has changes nothing and sends nothing.
	e.api("POST", "/contacts/"+c.ID+"/tags", loc.Token, ghl.ContactTags{Tags: []string{"existing"}}).want(t, http.StatusCreated)
	e.api("DELETE", "/contacts/"+c.ID+"/tags", loc.Token, ghl.ContactTags{Tags: []string{"existing"}}).want(t, http.StatusOK)
	rc.wait(t, 2)
	rc.mu.Lock()
	rc.refuse = 2
	rc.mu.Unlock()
	e.admin("DELETE", "/_sandbox/locations/"+loc.ID+"/contacts/"+c.ID, nil).want(t, http.StatusOK)

	got := rc.wait(t, 5) // two updates, the deletion refused twice then taken
	var bodies []webhookBody
	ids := map[string]int{}
	for _, d := range got {
		sig, err := base64.StdEncoding.DecodeString(d.sig)
		if err != nil || !ed25519.Verify(key, d.body, sig) {
			t.Errorf("delivery %s: bad signature %q", d.body, d.sig)
		}
		var b webhookBody
		if err := json.Unmarshal(d.body, &b); err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339Nano, b.Timestamp); err != nil || b.WebhookID == "" || b.LocationID != loc.ID || b.ID != c.ID {
			t.Errorf("delivery %s: want the contact, a webhookId and an RFC 3339 timestamp", d.body)
		}
		ids[b.WebhookID]++
		bodies = append(bodies, b)
	}
	slices.SortStableFunc(bodies, func(a, b webhookBody) int { return strings.Compare(a.Timestamp, b.Timestamp) })
	var updates []string
	deletes := 0
	for _, b := range bodies {
		switch b.Type {
		case WebhookContactTagUpdate:
			updates = append(updates, strings.Join(b.Tags, ","))
		case WebhookContactDelete:
			deletes++
		default:
			t.Errorf("type %q", b.Type)
		}
	}
	if !slices.Contains(updates, "existing,before,social:launch") || !slices.Contains(updates, "before,social:launch") || len(updates) != 2 {
		t.Errorf("ContactTagUpdate tags = %q", updates)
	}
	// The deletion's three deliveries are one webhook: one webhookId.
	if deletes != 3 || len(ids) != 3 {
		t.Errorf("%d ContactDelete deliveries, %d webhook ids; want 3 deliveries of one, 3 ids in all", deletes, len(ids))
	}

	// Bulk changes send one update per contact changed.
	other := e.newContact(loc.ID)
	e.api("POST", "/contacts/bulk/tags/update/add", loc.Token, map[string]any{"contacts": []string{other.ID}, "tags": []string{"bulk"}, "locationId": loc.ID}).
		want(t, http.StatusCreated)
	all := rc.wait(t, 6)
	if len(all) != 6 {
		t.Errorf("%d deliveries, want 6", len(all))
	}
	last := all[len(all)-1]
	if !strings.Contains(string(last.body), `"tags":["bulk"]`) || !strings.Contains(string(last.body), other.ID) {
		t.Errorf("bulk delivery: %s", last.body)
	}
}

func TestWebhookConfig(t *testing.T) {
	e := newEnv(t, "empty")
	for _, body := range []string{`{"webhookUrl":"ftp://x"}`, `{"webhookUrl":"not a url"}`, `{"webhookRetry":"0s"}`} {
		e.admin("PUT", "/_sandbox/config", body).adminErr(t, http.StatusBadRequest, strings.Split(body, `"`)[1])
	}
}
