// Package audit keeps socialsync's audit log: who did what to which
// location, and when. Entries are JSON messages on
// socialsync.audit.<action> in the SOCIALSYNC_AUDIT stream, whose max age
// and size bound the log (topology.AuditMaxAge). The gateway and the CLI
// write and list them.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/topology"
)

// Actions recorded.
const (
	ActionConnect = "connect"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionRemove  = "remove"
	ActionReplay  = "replay"
	// ActionDoctor is a run of the test console's checks (test calls to
	// HighLevel, counted against the location's budget).
	ActionDoctor = "doctor"
	// ActionUninstall is HighLevel's UNINSTALL of the app: the location
	// disconnected, its tokens gone.
	ActionUninstall = "uninstall"
	// ActionAdminKey is a use of an admin-scoped API key for an action
	// that needs it.
	ActionAdminKey = "admin_key"
)

// Actors that are not API keys.
const (
	// ByOperator is the socialsync CLI run by an operator.
	ByOperator = "operator"
	// ByWebhook is a HighLevel webhook (an install or uninstall).
	ByWebhook = "webhook"
	// ByBrowser is HighLevel's redirect to the gateway's OAuth callback:
	// someone approved the app's consent page.
	ByBrowser = "oauth-callback"
	// BySystem is socialsync itself (a location marked as needing
	// re-authorisation, an automatic pause).
	BySystem = "system"
)

// Entry is one audit record.
type Entry struct {
	// Seq is the entry's sequence in the stream (set when read).
	Seq uint64    `json:"seq,omitempty"`
	At  time.Time `json:"at"`
	// Who: "key:<id>" for an API key (its digest's prefix, never the
	// key), ByOperator, ByWebhook or BySystem.
	Who      string `json:"who"`
	Action   string `json:"action"`
	Location string `json:"location,omitempty"`
	// Detail says more, in words safe to show (never a secret).
	Detail string `json:"detail,omitempty"`
}

// Subject is the subject of an entry of action.
func Subject(action string) string { return topology.AuditPrefix + "." + action }

// Log writes and reads the audit log.
type Log struct {
	js  jetstream.JetStream
	now func() time.Time
}

// New returns the audit log of js; now is its clock (time.Now when nil).
func New(js jetstream.JetStream, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{js: js, now: now}
}

// Record stores e, dated now when e.At is zero.
func (l *Log) Record(ctx context.Context, e Entry) error {
	return l.record(ctx, e)
}

// RecordOnce stores e as Record does, once for id within the stream's
// duplicate window: a redelivered request that ends twice is logged once.
func (l *Log) RecordOnce(ctx context.Context, e Entry, id string) error {
	return l.record(ctx, e, jetstream.WithMsgID(id))
}

func (l *Log) record(ctx context.Context, e Entry, opts ...jetstream.PublishOpt) error {
	if e.At.IsZero() {
		e.At = l.now()
	}
	e.At, e.Seq = e.At.UTC(), 0
	if e.Who == "" || e.Action == "" {
		return errors.New("audit: an entry needs who and what")
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	if _, err := l.js.Publish(ctx, Subject(e.Action), b, opts...); err != nil {
		return fmt.Errorf("record %s of %s in the audit log: %w", e.Action, e.Location, err)
	}
	return nil
}

// maxScan bounds the entries one List reads: a page of a location whose
// entries are few among many may come back short, with a cursor.
const maxScan = 2000

// Filter selects entries: of one location (empty: all), with a sequence
// below Before (0: from the newest).
type Filter struct {
	Location string
	Before   uint64
	Limit    int
}

// List returns up to f.Limit entries matching f, newest first, and the
// sequence to pass as Before for the next page (0 when there is none). It
// reads at most maxScan entries, so a page may hold fewer than f.Limit
// and still have a next one.
func (l *Log) List(ctx context.Context, f Filter) ([]Entry, uint64, error) {
	stream, err := l.js.Stream(ctx, topology.StreamAudit)
	if err != nil {
		return nil, 0, fmt.Errorf("open stream %s: %w", topology.StreamAudit, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("read stream %s: %w", topology.StreamAudit, err)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	seq := info.State.LastSeq
	if f.Before > 0 && f.Before-1 < seq {
		seq = f.Before - 1
	}
	out := []Entry{}
	for scanned := 0; seq >= info.State.FirstSeq && seq > 0; seq, scanned = seq-1, scanned+1 {
		if len(out) == limit || scanned == maxScan {
			// A page is full, or a location's entries are sparse: the
			// next page goes on from here.
			return out, seq + 1, nil
		}
		m, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // aged out meanwhile
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read audit entry %d: %w", seq, err)
		}
		var e Entry
		if json.Unmarshal(m.Data, &e) != nil {
			continue
		}
		e.Seq = seq
		if f.Location != "" && e.Location != f.Location {
			continue
		}
		out = append(out, e)
	}
	return out, 0, nil
}
