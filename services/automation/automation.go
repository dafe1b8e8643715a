// Package automationworker is the automation worker: it keeps segment
// membership and fires saved workflows, so that contactsync does one job
// (post → contact tags) and a slow workflow never delays a contact tag.
//
// Segment membership (segments.go): the definitions are watched in
// "def.<name>" of socialsync_segments; the membership of each contact,
// "member.<loc>.<contactId>" there, is computed from the contact's state
// that contactsync stores (relations.ContactState) and the dates of its
// posts. It is computed again for a contact on each of its
// ContactTagsChanged ("socialsync.event.contact.<loc>", durable
// "segments" on SOCIALSYNC_EVENTS), and for a whole location on a
// SegmentsRecompute ("socialsync.trigger.segments.<loc>", durable
// "segments" on SOCIALSYNC_TRIGGERS), which a changed definition, a tag or
// a statistics event asks for. Membership is eventually consistent after
// contact tags: it follows them by one event.
//
// Saved workflows (workflows.go): tag, tag details, statistics and segment
// events (durable "workflows" on SOCIALSYNC_EVENTS) fire the workflows of
// socialsync_workflows that match them.
//
// Handlers receive decoded events and return a Result: the items of the
// event given up on (a contact HighLevel refused, a workflow action that
// failed for good), which the edge (edge.go) dead-letters.
package automationworker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Config is the automation worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"AUTOMATION_CONCURRENCY" default:"4" desc:"messages this replica handles at once, per durable"`
	// TagPrefix starts every contact tag contactsync applies in a
	// location whose mapping has no contact-tag template: a workflow
	// selecting contacts by social tag there looks for "<prefix><tag name>".
	TagPrefix string `envconfig:"CONTACT_TAG_PREFIX" default:"social:" desc:"prefix of the contact tags standing for social tags"`
	// BulkMin is the least number of contacts needing the same change
	// that go through the bulk tags endpoint rather than one call each.
	BulkMin int `envconfig:"AUTOMATION_BULK_MIN" default:"2" desc:"contacts needing the same tag change from which the bulk endpoint is used"`

	// Saved workflows' webhooks.
	SecretsDir      string        `envconfig:"WORKFLOW_SECRETS_DIR" desc:"directory of webhook signing secrets, one file per secret name"`
	WebhookAttempts int           `envconfig:"WORKFLOW_WEBHOOK_ATTEMPTS" default:"5" desc:"attempts of a webhook before it is dead-lettered"`
	WebhookBackoff  time.Duration `envconfig:"WORKFLOW_WEBHOOK_BACKOFF" default:"1s" desc:"wait before a webhook's second attempt; doubles, up to 16 times"`
	WebhookTimeout  time.Duration `envconfig:"WORKFLOW_WEBHOOK_TIMEOUT" default:"10s" desc:"time limit of one webhook attempt"`
	// WebhookAllowedHosts names the destinations webhooks may reach
	// besides public https ones: host names and CIDRs whose private
	// addresses, and plain http, are allowed (in-cluster receivers).
	WebhookAllowedHosts string `envconfig:"WORKFLOW_WEBHOOK_ALLOWED_HOSTS" desc:"host names and CIDRs, comma-separated, that webhooks may reach over private addresses or plain http"`
	// WebhookAllowLoopback lets webhooks reach loopback addresses:
	// `socialsync run`'s development mode sets it; no variable does.
	WebhookAllowLoopback bool `ignored:"true"`
	// WebhookResolver resolves webhook hosts; nil: the system's (tests
	// inject theirs).
	WebhookResolver automation.Resolver `ignored:"true"`

	// The operator's notifications (notify.go): location state changes
	// and new dead letters, signed, to one URL the allow-list above
	// bounds like the workflows' webhooks.
	NotifyURL        string `envconfig:"NOTIFY_URL" desc:"URL the operator's notifications are POSTed to (a location needs re-authorisation or is reconnected, new dead letters); none when unset"`
	NotifySecretFile string `envconfig:"NOTIFY_SECRET_FILE" desc:"file holding the key the notifications are signed with (X-Socialsync-Signature); required with SOCIALSYNC_NOTIFY_URL, read on every notification"`
}

// Worker is the automation worker. Its process runs its Routes and Loops.
type Worker struct {
	cfg  Config
	deps Deps
	dest *automation.Destinations // where webhooks may go
	log  *slog.Logger
	now  func() time.Time
	segs *segments
	ev   *events
	// notify sends the operator's notifications; nil without a URL.
	notify *notifier
}

// New returns the worker using d, after checking its settings.
func New(cfg Config, d Deps) (*Worker, error) {
	var errs []error
	if cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_AUTOMATION_CONCURRENCY: want at least 1, got %d", fleet.ErrConfig, cfg.Concurrency))
	}
	if cfg.BulkMin < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_AUTOMATION_BULK_MIN: want at least 1, got %d", fleet.ErrConfig, cfg.BulkMin))
	}
	// Zero webhook settings (a Config built in code) take the defaults.
	if cfg.WebhookAttempts == 0 {
		cfg.WebhookAttempts = 5
	}
	if cfg.WebhookBackoff == 0 {
		cfg.WebhookBackoff = time.Second
	}
	if cfg.WebhookTimeout == 0 {
		cfg.WebhookTimeout = 10 * time.Second
	}
	if cfg.WebhookAttempts < 1 || cfg.WebhookAttempts > 10 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WORKFLOW_WEBHOOK_ATTEMPTS: want 1 to 10, got %d", fleet.ErrConfig, cfg.WebhookAttempts))
	}
	if cfg.WebhookBackoff < 0 || cfg.WebhookTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WORKFLOW_WEBHOOK_BACKOFF and _TIMEOUT: want positive durations", fleet.ErrConfig))
	}
	dest, err := automation.ParseAllowList(cfg.WebhookAllowedHosts)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WORKFLOW_WEBHOOK_ALLOWED_HOSTS: %v", fleet.ErrConfig, err))
	}
	if d.Publisher == nil || d.Locations == nil || d.Client == nil || d.Segments == nil || d.Relations == nil || d.Runs == nil ||
		d.SegmentDefs == nil || d.Workflows == nil || d.Mappings == nil || d.Outbox == nil || d.DeadLetters == nil || d.Log == nil {
		errs = append(errs, errors.New("automation: incomplete dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dest.AllowLoopback, dest.Resolver, dest.Timeout = cfg.WebhookAllowLoopback, cfg.WebhookResolver, cfg.WebhookTimeout
	w := &Worker{cfg: cfg, deps: d, dest: dest, log: d.Log.With("worker", "automation"), now: time.Now}
	w.segs = &segments{w: w, locks: bus.NewStripes(),
		defs: newRegistry(d.SegmentDefs, automation.SegmentDefPrefix, "segment", automation.DecodeSegment, w.log)}
	w.segs.defs.changed = w.segs.defChanged
	webhooks := automation.Webhooks{Client: w.dest.NewClient(cfg.WebhookTimeout), Secrets: automation.DirSecrets(cfg.SecretsDir),
		Attempts: cfg.WebhookAttempts, Backoff: cfg.WebhookBackoff, MaxBackoff: 16 * cfg.WebhookBackoff}
	w.ev = &events{w: w, segs: w.segs,
		workflows: newRegistry(d.Workflows, "", "workflow", automation.DecodeWorkflow, w.log),
		webhooks:  &webhooks, eval: w.evaluator()}
	if w.notify, err = newNotifier(cfg, webhooks, w.log); err != nil {
		return nil, fmt.Errorf("%w: %v", fleet.ErrConfig, err)
	}
	return w, nil
}

// MetricEvaluationsAbandoned counts workflow expressions abandoned past
// their deadline.
const MetricEvaluationsAbandoned = "socialsync.workflows.evaluations_abandoned"

// evaluator returns the evaluator of the workflows' expressions, shared
// by every event this worker handles, counting abandoned evaluations.
func (w *Worker) evaluator() *automation.Evaluator {
	e := &automation.Evaluator{}
	if w.deps.Meter == nil {
		return e
	}
	abandoned, err := w.deps.Meter.Meter("socialsync/automation").Int64Counter(MetricEvaluationsAbandoned,
		metric.WithDescription("Workflow expressions abandoned past their deadline (they run on until they end)."))
	if err != nil {
		w.log.Warn("workflow metrics", "err", err)
		return e
	}
	e.OnAbandoned = func() {
		abandoned.Add(context.Background(), 1)
		w.log.Warn("workflow expression abandoned past its deadline")
	}
	return e
}

// Routes are the worker's consumers: segment recomputations on its
// SOCIALSYNC_TRIGGERS durable and contact events on its SOCIALSYNC_EVENTS
// durable (both "segments"), the events that fire workflows
// ("workflows" on SOCIALSYNC_EVENTS), and the location state changes
// notified to the operator ("notifier" on SOCIALSYNC_EVENTS).
func (w *Worker) Routes() []bus.Route {
	return []bus.Route{
		{Stream: topology.StreamTriggers, Durable: topology.DurableSegments,
			Handler: ratelimit.InLane(ghl.LaneBackground, edge(w, topology.DurableSegments, decodeRecompute, w.segs.handleRecompute)), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamEvents, Durable: topology.DurableSegments,
			Handler: ratelimit.InLane(ghl.LaneBackground, edge(w, topology.DurableSegments, decodeContactTags, w.segs.handleContact)), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamEvents, Durable: topology.DurableWorkflows,
			Handler: ratelimit.InLane(ghl.LaneBackground, edge(w, topology.DurableWorkflows, decodeEvent, w.ev.handle)), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamEvents, Durable: topology.DurableNotifier, Handler: w.handleLocationEvent, Concurrency: 1},
	}
}

// Loops are the watches of the segment and workflow definitions (the
// handlers wait for their initial load) and, with Deps.Notices, the
// notifications of new dead letters.
func (w *Worker) Loops() []run.Loop {
	loops := []run.Loop{{Name: "segment definitions", Run: w.segs.defs.run}, {Name: "workflow definitions", Run: w.ev.workflows.run}}
	if w.deps.Notices != nil {
		loops = append(loops, run.Loop{Name: "dead-letter notifications", Run: w.notifyDeadLetters})
	}
	return loops
}
