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

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Config is the automation worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"AUTOMATION_CONCURRENCY" default:"4" desc:"messages this replica handles at once, per durable"`
	// TagPrefix starts every contact tag contactsync applies: a workflow
	// selecting contacts by social tag looks for "<prefix><tag name>".
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
}

// Worker is the automation worker.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	dest *automation.Destinations // where webhooks may go
	log  *slog.Logger
	now  func() time.Time
}

// New returns the worker, after checking its settings.
func New(cfg Config, d *fleet.Deps) (*Worker, error) {
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
	if d == nil {
		errs = append(errs, errors.New("automation: no dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dest.AllowLoopback, dest.Resolver, dest.Timeout = cfg.WebhookAllowLoopback, cfg.WebhookResolver, cfg.WebhookTimeout
	return &Worker{cfg: cfg, deps: d, dest: dest, log: d.Log.With("worker", "automation"), now: time.Now}, nil
}

// MetricEvaluationsAbandoned counts workflow expressions abandoned past
// their deadline.
const MetricEvaluationsAbandoned = "socialsync.workflows.evaluations_abandoned"

// evaluator returns the evaluator of the workflows' expressions, shared
// by every event this worker handles, counting abandoned evaluations.
func (w *Worker) evaluator(ctx context.Context) *automation.Evaluator {
	e := &automation.Evaluator{}
	if w.deps.Telemetry == nil {
		return e
	}
	abandoned, err := w.deps.Telemetry.MeterProvider().Meter("socialsync/automation").Int64Counter(MetricEvaluationsAbandoned,
		metric.WithDescription("Workflow expressions abandoned past their deadline (they run on until they end)."))
	if err != nil {
		w.log.Warn("workflow metrics", "err", err)
		return e
	}
	e.OnAbandoned = func() {
		abandoned.Add(ctx, 1)
		w.log.Warn("workflow expression abandoned past its deadline")
	}
	return e
}

// Run keeps segment membership and fires saved workflows until ctx ends;
// it returns nil then. It fails when a consumer cannot run (its durable
// is gone, the connection is closed).
func (w *Worker) Run(ctx context.Context) error {
	var relations, segKV, wfKV, runs jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, w.deps.JS, map[string]*jetstream.KeyValue{
		topology.BucketRelations: &relations, topology.BucketSegments: &segKV,
		topology.BucketWorkflows: &wfKV, topology.BucketWorkflowRuns: &runs,
	}); err != nil {
		return err
	}
	segs := &segments{w: w, kv: segKV, relations: relations, locks: bus.NewStripes(),
		defs: newRegistry(segKV, automation.SegmentDefPrefix, "segment", automation.DecodeSegment, w.log)}
	segs.defs.changed = segs.defChanged
	ev := &events{w: w, segs: segs, runs: runs, relations: relations,
		workflows: newRegistry(wfKV, "", "workflow", automation.DecodeWorkflow, w.log),
		webhooks: &automation.Webhooks{Client: w.dest.NewClient(w.cfg.WebhookTimeout), Secrets: automation.DirSecrets(w.cfg.SecretsDir),
			Attempts: w.cfg.WebhookAttempts, Backoff: w.cfg.WebhookBackoff, MaxBackoff: 16 * w.cfg.WebhookBackoff},
		eval: w.evaluator(ctx)}
	recomputes, err := w.deps.Consumer(topology.StreamTriggers, topology.DurableSegments,
		edge(w, topology.DurableSegments, decodeRecompute, segs.handleRecompute), w.cfg.Concurrency)
	if err != nil {
		return err
	}
	contacts, err := w.deps.Consumer(topology.StreamEvents, topology.DurableSegments,
		edge(w, topology.DurableSegments, decodeContactTags, segs.handleContact), w.cfg.Concurrency)
	if err != nil {
		return err
	}
	fires, err := w.deps.Consumer(topology.StreamEvents, topology.DurableWorkflows,
		edge(w, topology.DurableWorkflows, decodeEvent, ev.handle), w.cfg.Concurrency)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return segs.defs.run(ctx) })
	g.Go(func() error { return ev.workflows.run(ctx) })
	g.Go(func() error { return recomputes.Run(ctx) })
	g.Go(func() error { return contacts.Run(ctx) })
	g.Go(func() error { return fires.Run(ctx) })
	return g.Wait()
}

// registered fails permanently for a location that was never connected.
func (w *Worker) registered(ctx context.Context, loc string) error {
	if _, err := w.deps.Creds.Location(ctx, loc); errors.Is(err, creds.ErrUnknownLocation) {
		return bus.Permanent(err)
	} else if err != nil {
		return fmt.Errorf("look up location %s: %w", loc, err)
	}
	return nil
}
