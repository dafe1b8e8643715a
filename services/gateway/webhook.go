package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The webhook's request headers and query parameter.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<raw body>">"; several v1 values may be given (one per secret
	// while a source rotates its secret).
	HeaderSignature = "X-Socialsync-Signature"
	// HeaderSource names the sending source, whose secret signs the
	// request; the query parameter "source" does the same. A request
	// naming none is the "default" source's (SOCIALSYNC_WEBHOOK_SECRET).
	HeaderSource = "X-Socialsync-Source"
)

// Sign returns the X-Socialsync-Signature value of body sent at t, signed
// with secret: what a sender computes.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac([]byte(secret), ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// webhookAnswer is the body of an accepted or duplicate webhook request.
type webhookAnswer struct {
	// Status is "accepted" (stored now) or "duplicate" (stored before:
	// nothing new was published).
	Status   string `json:"status"`
	EventID  string `json:"eventId"`
	Subject  string `json:"subject"`
	Sequence uint64 `json:"sequence"`
}

// webhookRecord is what BucketWebhookEvents keeps of an accepted event.
type webhookRecord struct {
	Subject  string    `json:"subject"`
	Sequence uint64    `json:"sequence"`
	Source   string    `json:"source"`
	At       time.Time `json:"at"`
}

// webhook is POST /v1/webhooks/posts: a PostEvent from source, whose
// signature over body signed has checked. It answers 202 once the event is
// stored in SOCIALSYNC_TRIGGERS (its ids.EventKey as Nats-Msg-Id), 200 for
// an event the same source sent for the same location before, 4xx with
// the reason for a bad event, 403 when the source may not speak for the
// location (see admit), 422 for a location that is not registered, 503
// with Retry-After when the location is being connected or its quota or
// the triggers stream is full, and 429 with Retry-After when JetStream
// cannot take it.
func (g *Gateway) webhook(w http.ResponseWriter, r *http.Request, source string, body []byte) {
	ev, err := decodePost(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed", err.Error())
		return
	}
	// The event's post id is an id in the source's system.
	ev.Source = source
	if err := g.validatePost(ev, true); err != nil {
		writeInvalid(w, err)
		return
	}
	key, err := ids.EventKey(source, ev.GetLocationId(), ev.GetEventId())
	if err != nil {
		writeInvalid(w, err)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.PublishTimeout)
	defer cancel()
	if !g.deps.Conn.IsConnected() {
		unavailable(w, "JetStream is unavailable; retry later")
		return
	}
	if !g.admit(ctx, w, source, ev.GetLocationId()) || g.refuseHeld(ctx, w, ev.GetLocationId()) {
		return
	}
	if rec, found, err := g.seen(ctx, key); err != nil {
		g.log.Warn("webhook: read event ids", "err", err)
		unavailable(w, "JetStream is unavailable; retry later")
		return
	} else if found {
		writeJSON(w, http.StatusOK, webhookAnswer{Status: "duplicate", EventID: ev.GetEventId(), Subject: rec.Subject, Sequence: rec.Sequence})
		return
	}
	subject, ack, err := g.deps.Publisher.PublishTo(ctx, topology.PostTriggers, ev, bus.WithMsgID(key))
	if g.full(w, err) {
		return
	}
	if err != nil {
		g.log.Warn("webhook: publish", "location", ev.GetLocationId(), "err", err)
		unavailable(w, "JetStream did not store the event; retry later")
		return
	}
	g.remember(ctx, key, webhookRecord{Subject: subject, Sequence: ack.Sequence, Source: source, At: g.now().UTC()})
	status, code := "accepted", http.StatusAccepted
	if ack.Duplicate {
		status, code = "duplicate", http.StatusOK
	}
	writeJSON(w, code, webhookAnswer{Status: status, EventID: ev.GetEventId(), Subject: subject, Sequence: ack.Sequence})
}

// signed authenticates a webhook request: it reads its body and checks
// its signature, and hands both to next with the source that signed. It
// refuses with 404 while webhooks are disabled, 415, 413, 408 or 400 for
// a body it cannot read, and 401 for a request that is unsigned, badly
// signed or stale.
func (g *Gateway) signed(next func(w http.ResponseWriter, r *http.Request, source string, body []byte)) authenticator {
	return func(w http.ResponseWriter, r *http.Request) (http.Handler, bool) {
		if len(g.secrets) == 0 {
			return &refusal{status: http.StatusNotFound, code: "webhooks_disabled",
				message: "webhooks are disabled: the gateway has no SOCIALSYNC_WEBHOOK_SECRET(S)"}, false
		}
		if f := notJSON(r); f != nil {
			return f, false
		}
		body, f := bodyOf(w, r, g.cfg.WebhookMaxBytes)
		if f != nil {
			return f, false
		}
		source, err := requestSource(r)
		if err != nil {
			return &refusal{status: http.StatusBadRequest, code: "bad_request", message: err.Error()}, false
		}
		if err := g.verify(source, r.Header.Get(HeaderSignature), body); err != nil {
			_, known := g.secrets[source]
			g.log.Info("webhook refused", "source", source, "source_known", known, "err", err)
			return &refusal{status: http.StatusUnauthorized, code: "bad_signature", message: err.Error()}, false
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { next(w, r, source, body) }), true
	}
}

// requestSource returns the source a request names in HeaderSource or the
// "source" query parameter.
func requestSource(r *http.Request) (string, error) {
	h, q := r.Header.Get(HeaderSource), r.URL.Query().Get("source")
	switch {
	case h != "" && q != "" && h != q:
		return "", errors.New("the source header and the source query parameter differ")
	}
	source := defaultSource
	if h != "" {
		source = h
	} else if q != "" {
		source = q
	}
	if !validSource(source) {
		return "", fmt.Errorf("source: want 1 to %d letters, digits, '-' or '_', got %q", maxSourceLen, clip(source, maxSourceLen))
	}
	return source, nil
}

// verify checks a signature header against the source's secrets, in
// constant time, and its timestamp against the tolerance. Its errors say
// what is wrong without revealing a secret or the expected signature. An
// unknown source is checked against a random secret and refused as a bad
// signature: same answer, same work, so a sender cannot probe which
// sources exist.
func (g *Gateway) verify(source, header string, body []byte) error {
	secrets, ok := g.secrets[source]
	if !ok {
		secrets = g.unknownSource
	}
	if header == "" {
		return errors.New("unsigned: missing " + HeaderSignature + " header")
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed " + HeaderSignature + " header: want t=<unix seconds>,v1=<hex HMAC-SHA256>")
	}
	match := 0
	for _, secret := range secrets {
		want := mac(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				match = 1
			}
		}
	}
	if match == 0 || !ok {
		return errors.New("bad signature")
	}
	skew := g.now().Sub(time.Unix(unix, 0))
	if skew > g.cfg.WebhookTolerance || skew < -g.cfg.WebhookTolerance {
		return fmt.Errorf("stale signature: its timestamp is %s from now, more than %s", skew.Abs().Round(time.Second), g.cfg.WebhookTolerance)
	}
	return nil
}

// decodePost reads a PostEvent from protojson strictly: unknown fields,
// wrong types and trailing data are errors.
func decodePost(body []byte) (*socialsyncv1.PostEvent, error) {
	var ev socialsyncv1.PostEvent
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, errors.New("empty body: want a JSON post event")
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("malformed post event: %s", protoErr(err))
	}
	return &ev, nil
}

// protoErr shortens protojson's error text, which starts with "proto:"
// and may hold odd spacing.
func protoErr(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	return clip(strings.Join(strings.Fields(s), " "), 300)
}

// validatePost checks a post event with the check every consumer of post
// triggers applies (bus.CheckPostEvent), against the gateway's clock;
// eventID says an eventId is required (the webhook's idempotency key). An
// eventId, required or not, must not start with a prefix socialsync
// reserves for its own ids (ids.CheckEventID). writeInvalid states its
// errors with the field named as in JSON.
func (g *Gateway) validatePost(ev *socialsyncv1.PostEvent, eventID bool) error {
	if eventID && ev.GetEventId() == "" {
		return errors.New("eventId: required (the idempotency key: the same event sent twice has the same eventId)")
	}
	if err := bus.CheckPostEvent(ev, g.now()); err != nil {
		return err
	}
	if id := ev.GetEventId(); id != "" {
		return ids.CheckEventID("event_id", id)
	}
	return nil
}

// writeInvalid answers 422 with err's text; for an *ids.Error its field,
// as the JSON body spells it, is also the error body's "field".
func writeInvalid(w http.ResponseWriter, err error) {
	body := errorBody{Code: "invalid", Message: fieldError(err).Error()}
	var e *ids.Error
	if errors.As(err, &e) {
		body.Field = jsonName(e.Field)
	}
	writeJSON(w, http.StatusUnprocessableEntity, apiError{Error: body})
}

// fieldError restates an *ids.Error with the field named as in JSON
// ("tag_ids[2]" → "tagIds[2]").
func fieldError(err error) error {
	var e *ids.Error
	if !errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("%s %s: want %s", jsonName(e.Field), strconv.Quote(e.Value), e.Rule)
}

// jsonName turns a field's protobuf name into its JSON name.
func jsonName(field string) string {
	var b strings.Builder
	up := false
	for _, r := range field {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(r)))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func validIDs(field string, list []string) error {
	if len(list) > bus.MaxIDsPerList {
		return fmt.Errorf("%s: more than %d ids", field, bus.MaxIDsPerList)
	}
	for i, id := range list {
		if err := ids.CheckHighLevel(fmt.Sprintf("%s[%d]", field, i), id); err != nil {
			return fieldError(err)
		}
	}
	return nil
}

// remember records an accepted event under key, for seen. A failure is
// logged: the stream's duplicate window still catches a replay for two
// minutes.
func (g *Gateway) remember(ctx context.Context, key string, rec webhookRecord) {
	data, err := json.Marshal(rec)
	if err == nil {
		_, err = g.kv.webhook.Put(ctx, key, data)
	}
	if err != nil {
		g.log.Warn("webhook: remember event id", "source", rec.Source, "err", err)
	}
}

// seen returns the record of an event id accepted before.
func (g *Gateway) seen(ctx context.Context, key string) (webhookRecord, bool, error) {
	e, err := g.kv.webhook.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return webhookRecord{}, false, nil
	}
	if err != nil {
		return webhookRecord{}, false, err
	}
	var rec webhookRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return webhookRecord{}, false, nil
	}
	return rec, true, nil
}
