package automationworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The events of the operator's notifications (Notice.Event, and the
// X-Socialsync-Event header).
const (
	// NoticeNeedsReauth: a location needs re-authorisation; its work
	// waits until it is connected again.
	NoticeNeedsReauth = "location.needs_reauth"
	// NoticeReconnected: a location that needed re-authorisation is
	// active again.
	NoticeReconnected = "location.reconnected"
	// NoticeDeadLetters: new dead letters were stored.
	NoticeDeadLetters = "dead_letters"
)

// Bounds of the dead-letter notifications: one notification covers at
// most noticeBatch dead letters (a burst sends several), each listed.
const (
	noticeBatch = 50
	noticeWait  = 5 * time.Second
)

// Notice is the JSON body of an operator notification. It names
// locations by id and dead letters by class, never by their content: no
// token, no contact, no error text.
type Notice struct {
	// ID is the same on every attempt of one notification
	// (X-Socialsync-Delivery): receivers deduplicate on it.
	ID    string    `json:"id"`
	Event string    `json:"event"`
	Time  time.Time `json:"time"`
	// Location and Reason are those of a location's state change.
	Location string `json:"location,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// DeadLetters are the new dead letters, oldest first.
	DeadLetters []NoticeDeadLetter `json:"dead_letters,omitempty"`
}

// NoticeDeadLetter is one dead letter of a notification: where it is
// (Seq in SOCIALSYNC_DLQ, for `socialsync dlq show`) and why in one word.
type NoticeDeadLetter struct {
	Seq      uint64    `json:"seq"`
	Worker   string    `json:"worker"`
	Location string    `json:"location"`
	Class    string    `json:"class"`
	Time     time.Time `json:"time"`
}

// DeadLetterFeed hands out the dead letters stored since the last ones
// acknowledged, on a durable the replicas share (the notifier on
// SOCIALSYNC_DLQ).
type DeadLetterFeed interface {
	// Next returns up to n new dead letters, waiting at most wait for the
	// first, and the function acknowledging them.
	Next(ctx context.Context, n int, wait time.Duration) ([]bus.StoredDeadLetter, func(context.Context) error, error)
}

// notifier sends the operator's notifications to the configured URL,
// signed like the gateway's ingress and bounded like the workflows'
// webhooks (the same destinations and attempts). A notification that
// every attempt failed is logged and given up: its alert still fires.
type notifier struct {
	url      string
	secret   string // the secret file's name in its directory
	webhooks *automation.Webhooks
	log      *slog.Logger
}

// newNotifier returns the notifier of cfg, or nil when no URL is set.
func newNotifier(cfg Config, webhooks automation.Webhooks, log *slog.Logger) (*notifier, error) {
	if cfg.NotifyURL == "" {
		return nil, nil
	}
	u, err := url.Parse(cfg.NotifyURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: SOCIALSYNC_NOTIFY_URL: want an absolute http(s) URL", errNotifyConfig)
	}
	if cfg.NotifySecretFile == "" {
		return nil, fmt.Errorf("%w: SOCIALSYNC_NOTIFY_SECRET_FILE: required with SOCIALSYNC_NOTIFY_URL", errNotifyConfig)
	}
	// The secret is read on every notification, so that replacing the
	// file (a Kubernetes Secret mount) rotates it.
	secrets := automation.DirSecrets(filepath.Dir(cfg.NotifySecretFile))
	if _, err := secrets.Secret(filepath.Base(cfg.NotifySecretFile)); err != nil {
		return nil, fmt.Errorf("%w: SOCIALSYNC_NOTIFY_SECRET_FILE: %v", errNotifyConfig, err)
	}
	webhooks.Secrets = secrets
	return &notifier{url: cfg.NotifyURL, secret: filepath.Base(cfg.NotifySecretFile), webhooks: &webhooks, log: log.With("notify", "webhook")}, nil
}

var errNotifyConfig = errors.New("notification settings")

// send delivers n, signed with the secret file's key. It returns an error
// only when ctx ended: a refused or failed notification is logged.
func (n *notifier) send(ctx context.Context, notice Notice) error {
	body, err := json.Marshal(notice)
	if err != nil {
		return err
	}
	err = n.webhooks.Send(ctx, automation.Delivery{URL: n.url, Secret: n.secret, ID: notice.ID,
		Trigger: notice.Event, Workflow: "notifications", Body: body})
	switch {
	case err == nil:
		n.log.Info("notification sent", "event", notice.Event, "id", notice.ID)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		n.log.Warn("notification not delivered", "event", notice.Event, "id", notice.ID, "err", err)
	}
	return nil
}

// locationNotice returns the notification of a location's state change,
// and false for a change that is not notified.
func locationNotice(id string, ev *socialsyncv1.LocationStateChanged) (Notice, bool) {
	n := Notice{ID: id, Time: ev.GetTimestamp().AsTime().UTC(), Location: ev.GetLocationId()}
	switch {
	case ev.GetState() == socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH:
		n.Event, n.Reason = NoticeNeedsReauth, ev.GetReason()
	case ev.GetState() == socialsyncv1.LocationState_LOCATION_STATE_ACTIVE &&
		ev.GetPreviousState() == socialsyncv1.LocationState_LOCATION_STATE_NEEDS_REAUTH:
		n.Event = NoticeReconnected
	default:
		return Notice{}, false
	}
	return n, true
}

// deadLetterNotice returns the notification of dead letters, oldest first.
func deadLetterNotice(dls []bus.StoredDeadLetter) Notice {
	n := Notice{Event: NoticeDeadLetters, Time: dls[len(dls)-1].Time.UTC(),
		ID: "dlq." + strconv.FormatUint(dls[0].Seq, 10) + "-" + strconv.FormatUint(dls[len(dls)-1].Seq, 10)}
	for _, dl := range dls {
		n.DeadLetters = append(n.DeadLetters, NoticeDeadLetter{Seq: dl.Seq, Worker: dl.Worker, Location: dl.Location,
			Class: dl.Class, Time: dl.Time.UTC()})
	}
	return n
}

// handleLocationEvent notifies a location's state change (the notifier
// durable on SOCIALSYNC_EVENTS; without a URL it only acknowledges).
func (w *Worker) handleLocationEvent(ctx context.Context, msg jetstream.Msg) error {
	var ev socialsyncv1.LocationStateChanged
	if _, err := bus.Decode(msg, &ev); err != nil {
		return err
	}
	notice, ok := locationNotice(eventID(msg), &ev)
	if !ok || w.notify == nil {
		return nil
	}
	return w.notify.send(ctx, notice)
}

// notifyDeadLetters is the loop of the notifier durable on SOCIALSYNC_DLQ:
// each batch of new dead letters makes one notification, then is
// acknowledged (without a URL, only acknowledged).
func (w *Worker) notifyDeadLetters(ctx context.Context) error {
	for ctx.Err() == nil {
		dls, ack, err := w.deps.Notices.Next(ctx, noticeBatch, noticeWait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("read new dead letters", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(noticeWait):
			}
			continue
		}
		if len(dls) == 0 {
			continue
		}
		if w.notify != nil {
			if err := w.notify.send(ctx, deadLetterNotice(dls)); err != nil {
				break // stopping: the batch is delivered again
			}
		}
		if err := ack(ctx); err != nil {
			w.log.Warn("acknowledge dead letters notified", "err", err)
		}
	}
	return nil
}
