package gateway

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// HighLevel's webhook signature headers.
const (
	// HeaderHighLevelSignature carries the base64 Ed25519 signature of
	// the raw body, under the key of SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY.
	HeaderHighLevelSignature = "X-Ghl-Signature"
	// HeaderHighLevelLegacySignature carries the base64 RSA-SHA256
	// (PKCS #1 v1.5) signature of the raw body, the scheme HighLevel
	// retired in July 2026; it is accepted only while
	// SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY is set.
	HeaderHighLevelLegacySignature = "X-Wh-Signature"
)

// The HighLevel webhook types socialsync acts on; others are answered
// 200 and counted (socialsync.gateway.highlevel_webhooks_ignored).
const (
	hlContactTagUpdate = "ContactTagUpdate"
	hlContactDelete    = "ContactDelete"
)

// highLevelKeys are the public keys HighLevel's webhooks are checked
// against: ed is required for the endpoint to be served, legacy is nil
// unless configured.
type highLevelKeys struct {
	ed     ed25519.PublicKey
	legacy *rsa.PublicKey
}

// parseHighLevelKeys reads SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY (Ed25519) and
// SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY (RSA): each a PEM public key
// (SPKI, "-----BEGIN PUBLIC KEY-----") or its base64 DER body, the form
// HighLevel's guide prints; an Ed25519 key may also be its 32 raw bytes in
// base64. A legacy key without an Ed25519 key is refused: the Ed25519
// signature is the one HighLevel sends.
func parseHighLevelKeys(ed, legacy string) (highLevelKeys, error) {
	var k highLevelKeys
	var errs []error
	if strings.TrimSpace(ed) != "" {
		pub, err := parsePublicKey(ed)
		if raw, rawErr := base64.StdEncoding.DecodeString(strings.TrimSpace(ed)); err != nil && rawErr == nil && len(raw) == ed25519.PublicKeySize {
			pub, err = ed25519.PublicKey(raw), nil
		}
		key, ok := pub.(ed25519.PublicKey)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY: %v", fleet.ErrConfig, err))
		case !ok:
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY: want an Ed25519 public key, got a %T", fleet.ErrConfig, pub))
		default:
			k.ed = key
		}
	}
	if strings.TrimSpace(legacy) != "" {
		pub, err := parsePublicKey(legacy)
		key, ok := pub.(*rsa.PublicKey)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY: %v", fleet.ErrConfig, err))
		case !ok:
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY: want an RSA public key, got a %T", fleet.ErrConfig, pub))
		case key.N.BitLen() < 2048:
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY: want an RSA key of at least 2048 bits, got %d", fleet.ErrConfig, key.N.BitLen()))
		default:
			k.legacy = key
		}
		if strings.TrimSpace(ed) == "" {
			errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_HIGHLEVEL_WEBHOOK_LEGACY_KEY: set without SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY (HighLevel signs with Ed25519; the legacy key is only accepted beside it)", fleet.ErrConfig))
		}
	}
	return k, errors.Join(errs...)
}

// parsePublicKey reads a PEM or base64 SPKI public key.
func parsePublicKey(s string) (crypto.PublicKey, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, errors.New("want a PEM public key or its base64 body")
		}
		der = b
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("not a public key (want SPKI, \"BEGIN PUBLIC KEY\")")
	}
	return pub, nil
}

// highLevelSigned authenticates a HighLevel webhook delivery by its
// signature over the raw body: X-GHL-Signature (Ed25519) when present,
// else X-WH-Signature (RSA-SHA256) when the legacy key is configured. A
// request with a bad Ed25519 signature is refused even if it also holds a
// good legacy one. It refuses with 404 while no key is configured, 415,
// 413, 408 or 400 for a body it cannot read, and 401 for a request that
// is unsigned or badly signed.
func (g *Gateway) highLevelSigned(next func(w http.ResponseWriter, r *http.Request, body []byte)) authenticator {
	return func(w http.ResponseWriter, r *http.Request) (http.Handler, bool) {
		if g.highLevel.ed == nil {
			return &refusal{status: http.StatusNotFound, code: "webhooks_disabled",
				message: "HighLevel webhooks are disabled: the gateway has no SOCIALSYNC_HIGHLEVEL_WEBHOOK_KEY"}, false
		}
		if f := notJSON(r); f != nil {
			return f, false
		}
		body, f := bodyOf(w, r, g.cfg.WebhookMaxBytes)
		if f != nil {
			return f, false
		}
		if err := g.highLevel.verify(r.Header, body); err != nil {
			g.log.Info("highlevel webhook refused", "err", err)
			return &refusal{status: http.StatusUnauthorized, code: "bad_signature", message: err.Error()}, false
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next(w, r, body) }), true
	}
}

// verify checks a delivery's signature; its errors name the header, never
// a key or the expected signature.
func (k highLevelKeys) verify(h http.Header, body []byte) error {
	if sig := h.Get(HeaderHighLevelSignature); sig != "" {
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || !ed25519.Verify(k.ed, body, b) {
			return errors.New("bad signature: " + HeaderHighLevelSignature + " does not verify")
		}
		return nil
	}
	sig := h.Get(HeaderHighLevelLegacySignature)
	switch {
	case sig == "":
		return errors.New("unsigned: missing " + HeaderHighLevelSignature + " header")
	case k.legacy == nil:
		return errors.New("unsigned: " + HeaderHighLevelLegacySignature + " (the legacy signature) is not accepted; missing " + HeaderHighLevelSignature)
	}
	b, err := base64.StdEncoding.DecodeString(sig)
	digest := sha256.Sum256(body)
	if err != nil || rsa.VerifyPKCS1v15(k.legacy, crypto.SHA256, digest[:], b) != nil {
		return errors.New("bad signature: " + HeaderHighLevelLegacySignature + " does not verify")
	}
	return nil
}

// highLevelDelivery is the part of a HighLevel webhook body socialsync
// reads. The rest (names, emails, phone numbers, custom fields) is never
// decoded, stored or logged.
type highLevelDelivery struct {
	Type       string          `json:"type"`
	LocationID string          `json:"locationId"`
	CompanyID  string          `json:"companyId"`
	ID         string          `json:"id"`
	Tags       []string        `json:"tags"`
	WebhookID  string          `json:"webhookId"`
	Timestamp  json.RawMessage `json:"timestamp"`
}

// highLevelAnswer is the body of a 200 answer to HighLevel.
type highLevelAnswer struct {
	// Status is "accepted" (stored now), "duplicate" (stored before:
	// nothing new was stored) or "ignored" (a type socialsync does not act on).
	Status    string `json:"status"`
	Type      string `json:"type"`
	WebhookID string `json:"webhookId,omitempty"`
	Subject   string `json:"subject,omitempty"`
	Sequence  uint64 `json:"sequence,omitempty"`
}

// validType is what a type must look like to become a metric attribute.
var validType = regexp.MustCompile(`^[A-Za-z]{1,40}$`)

// highLevelWebhook is POST /v1/highlevel/webhooks: one delivery of any of
// the app's webhooks, whose signature highLevelSigned has checked. It
// dispatches on type: ContactTagUpdate and ContactDelete are stored in
// SOCIALSYNC_TRIGGERS as a HighLevelContactChanged for contactsync and
// answered 200 "accepted"; another type, or a location that is not
// registered, is answered 200 "ignored". A
// delivery seen before (its webhookId, or its body's hash without one)
// is answered 200 "duplicate" and stores nothing; one whose timestamp is
// more than topology.HighLevelWebhookWindow from now is refused 401. When
// JetStream cannot store it, the answer is 429 with Retry-After: HighLevel
// delivers again on 429 only.
func (g *Gateway) highLevelWebhook(w http.ResponseWriter, r *http.Request, body []byte) {
	var d highLevelDelivery
	if err := json.Unmarshal(body, &d); err != nil {
		writeError(w, http.StatusBadRequest, "malformed", "malformed HighLevel webhook: want a JSON object")
		return
	}
	sent, err := parseHighLevelTime(d.Timestamp)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed", "timestamp: "+err.Error())
		return
	}
	if !sent.IsZero() {
		if skew := g.now().Sub(sent); skew.Abs() > topology.HighLevelWebhookWindow {
			g.log.Info("highlevel webhook refused: stale", "type", clip(d.Type, 40))
			writeError(w, http.StatusUnauthorized, "stale",
				fmt.Sprintf("stale delivery: its timestamp is %s from now, more than %s", skew.Abs().Round(time.Second), topology.HighLevelWebhookWindow))
			return
		}
	}
	if d.Type == hlInstall || d.Type == hlUninstall {
		if err := checkInstallIDs(d); err != nil {
			writeInvalid(w, err)
			return
		}
		webhookID, key := highLevelKey(d.WebhookID, body)
		g.highLevelInstall(w, r, d, webhookID, key)
		return
	}
	var change socialsyncv1.HighLevelContactChange
	switch d.Type {
	case hlContactTagUpdate:
		change = socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS
	case hlContactDelete:
		change = socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_DELETED
	default:
		typ := d.Type
		if !validType.MatchString(typ) {
			typ = "invalid"
		}
		g.ignoredHighLevel(r.Context(), typ, "type")
		writeJSON(w, http.StatusOK, highLevelAnswer{Status: "ignored", Type: clip(d.Type, 40), WebhookID: clip(d.WebhookID, 128)})
		return
	}
	if err := ids.CheckHighLevel("locationId", d.LocationID); err != nil {
		writeInvalid(w, err)
		return
	}
	if err := ids.CheckHighLevel("id", d.ID); err != nil {
		writeInvalid(w, err)
		return
	}
	webhookID, key := highLevelKey(d.WebhookID, body)
	ev := &socialsyncv1.HighLevelContactChanged{LocationId: d.LocationID, ContactId: d.ID, Change: change,
		WebhookId: webhookID, ReceivedAt: timestamppb.New(g.now())}
	if change == socialsyncv1.HighLevelContactChange_HIGH_LEVEL_CONTACT_CHANGE_TAGS {
		// Absent is not "no tags": read so, every tag socialsync
		// applied would look removed by hand.
		if d.Tags == nil {
			writeError(w, http.StatusUnprocessableEntity, "invalid", "tags: required in a ContactTagUpdate (the contact's tags now, [] for none)")
			return
		}
		ev.Tags = d.Tags
	}
	if !sent.IsZero() {
		ev.SentAt = timestamppb.New(sent)
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.PublishTimeout)
	defer cancel()
	if !g.deps.Conn.IsConnected() {
		unavailable(w, "JetStream is unavailable; HighLevel delivers again later")
		return
	}
	// HighLevel sends the webhooks of every location the app is
	// installed in; those socialsync was not given are none of its
	// business (their messages would only be dead letters).
	if l, err := g.deps.Directory.Location(ctx, d.LocationID); errors.Is(err, creds.ErrUnknownLocation) {
		g.ignoredHighLevel(ctx, d.Type, "unregistered_location")
		writeJSON(w, http.StatusOK, highLevelAnswer{Status: "ignored", Type: d.Type, WebhookID: webhookID})
		return
	} else if err != nil {
		g.log.Warn("highlevel webhook: read location", "location", d.LocationID, "err", err)
		unavailable(w, "JetStream is unavailable; HighLevel delivers again later")
		return
	} else if gone(w, l) {
		return
	}
	if g.refuseHeld(ctx, w, d.LocationID) {
		return
	}
	if rec, found, err := g.seen(ctx, key); err != nil {
		g.log.Warn("highlevel webhook: read webhook ids", "err", err)
		unavailable(w, "JetStream is unavailable; HighLevel delivers again later")
		return
	} else if found {
		writeJSON(w, http.StatusOK, highLevelAnswer{Status: "duplicate", Type: d.Type, WebhookID: webhookID, Subject: rec.Subject, Sequence: rec.Sequence})
		return
	}
	subject, ack, err := g.deps.Publisher.PublishTo(ctx, topology.HighLevelContactTriggers, ev, bus.WithMsgID(key))
	if err != nil {
		// A full location or stream too: HighLevel retries 429 only.
		g.log.Warn("highlevel webhook: publish", "location", d.LocationID, "err", err)
		unavailable(w, "JetStream did not store the delivery; HighLevel delivers again later")
		return
	}
	g.remember(ctx, key, webhookRecord{Subject: subject, Sequence: ack.Sequence, Source: "highlevel", At: g.now().UTC()})
	status := "accepted"
	if ack.Duplicate {
		status = "duplicate"
	}
	writeJSON(w, http.StatusOK, highLevelAnswer{Status: status, Type: d.Type, WebhookID: webhookID, Subject: subject, Sequence: ack.Sequence})
}

// highLevelKey returns the webhook id a delivery is remembered by and its
// key in BucketWebhookEvents, namespaced apart from the post events'
// ("<source>/<loc>/<id>"): "highlevel.id.<hex SHA-256 of webhookId>", or,
// for a delivery without a webhookId, "body:<hex SHA-256 of the body>" and
// "highlevel.body.<same hex>".
func highLevelKey(webhookID string, body []byte) (string, string) {
	if webhookID != "" {
		sum := sha256.Sum256([]byte(webhookID))
		return clip(webhookID, 128), "highlevel.id." + hex.EncodeToString(sum[:])
	}
	s := sha256.Sum256(body)
	sum := hex.EncodeToString(s[:])
	return "body:" + sum, "highlevel.body." + sum
}

// parseHighLevelTime reads a delivery's timestamp: an RFC 3339 string
// (HighLevel's documented form) or Unix milliseconds; absent is zero.
func parseHighLevelTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, errors.New("want an RFC 3339 time")
		}
		return t, nil
	}
	ms, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return time.Time{}, errors.New("want an RFC 3339 time or Unix milliseconds")
	}
	return time.UnixMilli(ms), nil
}

// ignoredHighLevel counts a delivery socialsync does not act on: of a
// type it does not know (reason "type"), or for a location it was not
// given (reason "unregistered_location").
func (g *Gateway) ignoredHighLevel(ctx context.Context, typ, reason string) {
	if g.hlIgnored == nil {
		return
	}
	g.hlIgnored.Add(ctx, 1, metric.WithAttributes(attribute.String("type", typ), attribute.String("reason", reason)))
}

// newIgnoredCounter makes socialsync.gateway.highlevel_webhooks_ignored.
func (g *Gateway) newIgnoredCounter() metric.Int64Counter {
	c, err := g.deps.Telemetry.MeterProvider().Meter("socialsync/gateway").Int64Counter("socialsync.gateway.highlevel_webhooks_ignored",
		metric.WithDescription("HighLevel webhook deliveries socialsync does not act on, by type and reason (type, unregistered_location)."))
	if err != nil {
		g.log.Warn("gateway metrics", "err", err)
		return nil
	}
	return c
}
