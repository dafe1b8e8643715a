package automation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Webhook headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">", the scheme of the gateway's signed ingress.
	HeaderSignature = "X-Socialsync-Signature"
	// HeaderDelivery is the same for every attempt of one action for one
	// event: receivers deduplicate on it.
	HeaderDelivery = "X-Socialsync-Delivery"
	// HeaderEvent names the trigger ("tag.created").
	HeaderEvent = "X-Socialsync-Event"
	// HeaderWorkflow names the workflow.
	HeaderWorkflow = "X-Socialsync-Workflow"
)

// Sign returns the signature header value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is a signature that does not verify.
var ErrBadSignature = errors.New("bad webhook signature")

// Verify checks a signature header against body: the HMAC must match and
// the timestamp lie within tolerance of now (replays are refused).
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: want t=<unix>,v1=<hex>", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d outside the tolerance of %s", ErrBadSignature, sec, tolerance)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return fmt.Errorf("%w: HMAC mismatch", ErrBadSignature)
	}
	return nil
}

// Secrets finds webhook signing secrets by name.
type Secrets interface {
	Secret(name string) ([]byte, error)
}

// DirSecrets reads each secret from the file of its name in a directory,
// as Kubernetes mounts a Secret; a secret rotates by replacing its file.
type DirSecrets string

// Secret reads secret name; trailing line breaks are dropped.
func (d DirSecrets) Secret(name string) ([]byte, error) {
	if d == "" {
		return nil, fmt.Errorf("%w: secret %q: no secrets directory configured (SOCIALSYNC_WORKFLOW_SECRETS_DIR)", ErrActionFailed, name)
	}
	if !ValidSecretName(name) {
		return nil, fmt.Errorf("%w: invalid secret name %q", ErrActionFailed, name)
	}
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: secret %q not found in the secrets directory", ErrActionFailed, name)
	}
	if err != nil {
		return nil, fmt.Errorf("read secret %q: %w", name, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: secret %q is empty", ErrActionFailed, name)
	}
	return b, nil
}

// Webhooks sends signed webhooks, retrying transient failures.
type Webhooks struct {
	// Client makes the calls: a Destinations' NewClient, which checks
	// where connections go; nil: one with an empty allow-list.
	Client  *http.Client
	Secrets Secrets
	// Attempts is how many times a delivery is tried (at least 1).
	Attempts int
	// Backoff is the wait before the second attempt; it doubles after
	// each, up to MaxBackoff. A Retry-After answer within MaxBackoff wins.
	Backoff    time.Duration
	MaxBackoff time.Duration
	Now        func() time.Time
	// timer waits between attempts; nil: a real one (tests inject theirs).
	timer backoff.Timer
}

// Delivery is one webhook call.
type Delivery struct {
	URL, Secret       string
	ID                string // HeaderDelivery
	Trigger, Workflow string
	Body              []byte
}

// Send delivers d. It returns nil on a 2xx answer; an error matching
// ErrActionFailed when the receiver refused it (a 4xx other than 408 and
// 429, or a redirect, which is not followed), when the destination is not
// allowed (ErrDestination), when every attempt failed, or when the secret
// is missing; another error only when ctx ended. Errors name the answer's
// status class ("4xx", "5xx") or "network", never the URL, an address or
// a port: they reach dead letters, which the API shows.
func (w *Webhooks) Send(ctx context.Context, d Delivery) error {
	secret, err := w.Secrets.Secret(d.Secret)
	if err != nil {
		return err
	}
	if _, err := url.Parse(d.URL); err != nil {
		return fmt.Errorf("%w: webhook url does not parse", ErrActionFailed)
	}
	attempts := max(w.Attempts, 1)
	bo := w.backOff()
	send := func() error {
		retryAfter, err := w.post(ctx, d, secret)
		bo.retryAfter = retryAfter
		var perm *refusedError
		var dest *destinationError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &perm):
			return backoff.Permanent(fmt.Errorf("%w: webhook: %v", ErrActionFailed, err))
		case errors.As(err, &dest):
			return backoff.Permanent(fmt.Errorf("%w: webhook: %w", ErrActionFailed, dest))
		}
		return err
	}
	err = backoff.RetryNotifyWithTimer(send, backoff.WithContext(backoff.WithMaxRetries(bo, uint64(attempts-1)), ctx), nil, w.timer)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrActionFailed):
		return err
	}
	return fmt.Errorf("%w: webhook: %d attempts, the last: %v", ErrActionFailed, attempts, err)
}

// backOff returns the waits between the attempts of one delivery: Backoff,
// doubling up to MaxBackoff, without jitter.
func (w *Webhooks) backOff() *retryAfterBackOff {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.Backoff),
		backoff.WithMaxInterval(max(w.MaxBackoff, w.Backoff)),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(0),
	)
	return &retryAfterBackOff{BackOff: b, limit: w.MaxBackoff}
}

// retryAfterBackOff lets the Retry-After of the last answer, when it is
// within limit, stand for the next computed wait. The computed wait is
// drawn all the same, so the doubling goes on as if it had been used.
type retryAfterBackOff struct {
	backoff.BackOff
	limit      time.Duration
	retryAfter time.Duration // of the last answer; 0 when it had none
}

func (b *retryAfterBackOff) NextBackOff() time.Duration {
	d := b.BackOff.NextBackOff()
	if d != backoff.Stop && b.retryAfter > 0 && b.retryAfter <= b.limit {
		d = b.retryAfter
	}
	return d
}

// statusClass names an answer's class: "4xx", "5xx".
func statusClass(status int) string { return strconv.Itoa(status/100) + "xx" }

// refusedError is an answer not worth retrying.
type refusedError struct{ status int }

func (e *refusedError) Error() string {
	if e.status == 0 {
		return "the request could not be built"
	}
	if e.status/100 == 3 {
		return "answered 3xx: redirects are not followed"
	}
	return "refused with " + statusClass(e.status)
}

// post makes one attempt; it returns the answer's Retry-After, if any.
func (w *Webhooks) post(ctx context.Context, d Delivery, secret []byte) (time.Duration, error) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	if u, err := url.Parse(d.URL); err == nil && u.Scheme == "http" {
		ctx = withPlainHTTP(ctx)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, &refusedError{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "socialsync-workflows")
	req.Header.Set(HeaderSignature, Sign(secret, now(), d.Body))
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderEvent, d.Trigger)
	req.Header.Set(HeaderWorkflow, d.Workflow)
	c := w.Client
	if c == nil {
		c = (&Destinations{}).NewClient(10 * time.Second)
	}
	resp, err := c.Do(req)
	if err != nil {
		// The error names the URL and the addresses dialled: keep only
		// the policy's refusal, which names neither, or the class.
		var dest *destinationError
		if errors.As(err, &dest) {
			return 0, dest
		}
		return 0, errors.New("network")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		var ra time.Duration
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			ra = time.Duration(s) * time.Second
		}
		return ra, errors.New(statusClass(resp.StatusCode))
	default:
		return 0, &refusedError{status: resp.StatusCode}
	}
}
