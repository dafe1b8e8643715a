package ghlsim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"slices"
	"time"
)

// HighLevel's app webhooks, as the simulator sends them: ContactTagUpdate
// when a contact's tags change through the API (add, remove, bulk, the
// tags of an upsert that updates a contact) and
// ContactDelete when a contact is deleted through the admin API, to the
// URL of PUT /_sandbox/config {"webhookUrl": ...} (none by default: no
// webhook is sent). Each body carries the contact (as HighLevel's
// payloads do: names, email, phone, tags), a random webhookId and an
// RFC 3339 timestamp; it is signed with the simulator's Ed25519 key in
// X-GHL-Signature (base64 of the signature of the raw body), the key
// GET /_sandbox/apps publishes as webhookPublicKey (SPKI PEM). A delivery
// answered 429 is sent again, up to six times, webhookRetry apart
// (HighLevel: ten minutes; configurable as webhookRetry); any other answer
// or a failure ends it, as HighLevel does.

// Webhook types and the signature header the simulator sends.
const (
	WebhookContactTagUpdate = "ContactTagUpdate"
	WebhookContactDelete    = "ContactDelete"
	HeaderWebhookSignature  = "X-GHL-Signature"
	webhookRetries          = 6
	defaultWebhookRetry     = 10 * time.Minute
	webhookTimeout          = 10 * time.Second
)

// webhookBody is a contact webhook's body.
type webhookBody struct {
	Type       string   `json:"type"`
	LocationID string   `json:"locationId"`
	ID         string   `json:"id"`
	FirstName  string   `json:"firstName,omitempty"`
	LastName   string   `json:"lastName,omitempty"`
	Email      string   `json:"email,omitempty"`
	Phone      string   `json:"phone,omitempty"`
	DateAdded  string   `json:"dateAdded,omitempty"`
	Tags       []string `json:"tags"`
	WebhookID  string   `json:"webhookId"`
	Timestamp  string   `json:"timestamp"`
}

// webhookKey returns the simulator's signing key, derived from its seed
// so that a restarted simulator signs alike.
func (s *Simulator) webhookKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("ghlsim/" + s.seed + "/webhook key"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// WebhookPublicKey returns the public key the simulator's webhooks are
// signed with, as an SPKI PEM block (what GET /_sandbox/apps shows).
func (s *Simulator) WebhookPublicKey() string {
	der, err := x509.MarshalPKIXPublicKey(s.webhookKey().Public())
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// emitContact sends a contact webhook of type typ for c, as it is now,
// in the background. Callers hold the location's lock.
func (s *Simulator) emitContact(typ string, c *contact) {
	cfg := s.config.Load()
	if cfg.webhookURL == "" {
		return
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	b := webhookBody{Type: typ, LocationID: c.LocationID, ID: c.ID, FirstName: c.FirstName, LastName: c.LastName,
		Email: c.Email, Phone: c.Phone, DateAdded: c.DateAdded, Tags: nonNil(slices.Clone(c.Tags)),
		WebhookID: hex.EncodeToString(id), Timestamp: s.now().UTC().Format(time.RFC3339Nano)}
	s.send(cfg, b)
}

// send signs body's JSON and delivers it to cfg's webhook URL, in the
// background.
func (s *Simulator) send(cfg *config, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		return
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(s.webhookKey(), b))
	go s.deliver(cfg.webhookURL, cfg.webhookRetry, b, sig)
}

// deliver posts one webhook, again on 429.
func (s *Simulator) deliver(url string, retry time.Duration, body []byte, sig string) {
	client := &http.Client{Timeout: webhookTimeout}
	for attempt := 0; attempt <= webhookRetries; attempt++ {
		if attempt > 0 {
			time.Sleep(retry)
		}
		ctx, cancel := context.WithTimeout(context.Background(), webhookTimeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			cancel()
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderWebhookSignature, sig)
		resp, err := client.Do(req)
		cancel()
		if err != nil {
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			return
		}
	}
}

// tagsChanged reports whether a contact's tags differ from before.
func tagsChanged(before []string, c *contact) bool {
	return !slices.Equal(before, c.Tags)
}
