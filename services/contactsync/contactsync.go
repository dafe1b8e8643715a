// Package contactsync is the worker that turns posts into contact tags.
// It reads PostEvent from "socialsync.trigger.post.<loc>" (durable
// "contactsync" on SOCIALSYNC_TRIGGERS): every contact a post lists ends
// up with the contact tag "<prefix><tag name>" for each social tag of the
// post, and loses it when no post of the contact carries the tag any
// more (the post dropped it, was deleted, or no longer lists the
// contact). It publishes ContactTagsChanged on
// "socialsync.event.contact.<loc>" for every contact it changed.
//
// What it knows lives in the relations bucket, under revision checks so
// that replicas can race: "contact.<loc>.<contactId>" holds the tags of
// each of the contact's posts and the contact tags applied, and
// "postcontacts.<loc>.<postId>" the contacts a post was last linked to.
// Each event's changes are computed against the stored state, so a
// redelivered or duplicated event writes nothing. Tag names come from the
// catalogue the fetcher keeps in "socialsync_tags", which also remembers
// deleted tags. A tag the catalogue (or the enricher's details in
// "socialsync_tag_details") marks deleted is skipped: counted in
// socialsync.contactsync.tags.skipped and listed in ContactTagsChanged.
// An event naming a tag the catalogue does not hold at all is deferred,
// and asks the fetcher for a refresh, while the catalogue is older than
// the event; once a catalogue fetched after the event still lacks the tag,
// that tag alone is dead-lettered and the event's other tags applied.
package contactsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// UnknownTagRetry is the longest an event naming a tag the catalogue
// lacks is deferred, while the catalogue is older than the event, before
// it is tried again: the fetcher's refresh it asked for should be done by
// then. The first deferral is FirstUnknownTagRetry, each next one twice
// the last: a location's first event usually reaches contactsync before
// its first catalogue, which takes the fetcher milliseconds. Deferrals
// never make a dead letter.
const (
	UnknownTagRetry      = 2 * time.Second
	FirstUnknownTagRetry = 250 * time.Millisecond
)

// unknownTagRetry returns the deferral of an event naming unknown tags on
// its delivered-th delivery (from 1).
func unknownTagRetry(delivered uint64) time.Duration {
	d := FirstUnknownTagRetry
	for i := uint64(1); i < delivered && d < UnknownTagRetry; i++ {
		d *= 2
	}
	return min(d, UnknownTagRetry)
}

// Config is the contactsync worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"CONTACTSYNC_CONCURRENCY" default:"4" desc:"post events this replica handles at once"`
	// TagPrefix starts every contact tag contactsync applies; it keeps
	// them apart from the tags people add by hand.
	TagPrefix string `envconfig:"CONTACT_TAG_PREFIX" default:"social:" desc:"prefix of the contact tags standing for social tags"`
	// BulkMin is the least number of contacts needing the same change
	// that go through the bulk tags endpoint rather than one call each.
	BulkMin int `envconfig:"CONTACTSYNC_BULK_MIN" default:"2" desc:"contacts needing the same tag change from which the bulk endpoint is used"`

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

// Worker is the contactsync worker.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	dest *automation.Destinations // where webhooks may go
	log  *slog.Logger
	now  func() time.Time
	// skipped counts the tags left out (metrics.go).
	skipped metric.Int64Counter
	// beforeCommit, set by tests only, runs between a contact's HighLevel
	// writes and the storing of its state; an error it returns fails the
	// event there, as a crash or a NATS failure would.
	beforeCommit func(contact string) error
}

// New returns the worker, after checking its settings.
func New(cfg Config, d *fleet.Deps) (*Worker, error) {
	var errs []error
	if cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_CONCURRENCY: want at least 1, got %d", fleet.ErrConfig, cfg.Concurrency))
	}
	if strings.TrimSpace(cfg.TagPrefix) == "" {
		// Without a prefix, removing a tag a post dropped would also
		// remove the same tag added by hand.
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACT_TAG_PREFIX: must not be empty", fleet.ErrConfig))
	}
	if cfg.BulkMin < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_BULK_MIN: want at least 1, got %d", fleet.ErrConfig, cfg.BulkMin))
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
		errs = append(errs, errors.New("contactsync: no dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	dest.AllowLoopback, dest.Resolver, dest.Timeout = cfg.WebhookAllowLoopback, cfg.WebhookResolver, cfg.WebhookTimeout
	w := &Worker{cfg: cfg, deps: d, dest: dest, log: d.Log.With("worker", "contactsync"), now: time.Now}
	w.skipped = w.newSkippedCounter()
	return w, nil
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
	abandoned, err := w.deps.Telemetry.MeterProvider().Meter("socialsync/contactsync").Int64Counter(MetricEvaluationsAbandoned,
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

// Run handles post events, segment recomputations and the events that
// fire saved workflows until ctx ends; it returns nil then. It fails
// when the consumer cannot run (its durable is gone, the connection is
// closed).
func (w *Worker) Run(ctx context.Context) error {
	var tags, details, relations, segKV, wfKV, runs, settingsKV jetstream.KeyValue
	if err := bus.OpenBuckets(ctx, w.deps.JS, map[string]*jetstream.KeyValue{
		topology.BucketTags: &tags, topology.BucketTagDetails: &details, topology.BucketRelations: &relations,
		topology.BucketSegments: &segKV, topology.BucketWorkflows: &wfKV, topology.BucketWorkflowRuns: &runs, topology.BucketSettings: &settingsKV,
	}); err != nil {
		return err
	}
	segs := &segments{w: w, kv: segKV, relations: relations, locks: newStripes(),
		defs: newRegistry(segKV, automation.SegmentDefPrefix, "segment", automation.DecodeSegment, w.log)}
	segs.defs.changed = segs.defChanged
	ev := &events{w: w, segs: segs, runs: runs, relations: relations,
		workflows: newRegistry(wfKV, "", "workflow", automation.DecodeWorkflow, w.log),
		webhooks: &automation.Webhooks{Client: w.dest.NewClient(w.cfg.WebhookTimeout), Secrets: automation.DirSecrets(w.cfg.SecretsDir),
			Attempts: w.cfg.WebhookAttempts, Backoff: w.cfg.WebhookBackoff, MaxBackoff: 16 * w.cfg.WebhookBackoff},
		eval: w.evaluator(ctx)}
	h := &handler{w: w, store: &store{tags: tags, details: details, relations: relations}, locks: newStripes(), segs: segs}
	h.settings = settingsKV
	posts, err := w.deps.Consumer(topology.StreamTriggers, topology.DurableContactSync, h.handle, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	recomputes, err := w.deps.Consumer(topology.StreamTriggers, topology.DurableSegments, segs.handle, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	evCons, err := w.deps.Consumer(topology.StreamEvents, topology.DurableContactSync, ev.handle, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return segs.defs.run(ctx) })
	g.Go(func() error { return ev.workflows.run(ctx) })
	g.Go(func() error { return posts.Run(ctx) })
	g.Go(func() error { return recomputes.Run(ctx) })
	g.Go(func() error { return evCons.Run(ctx) })
	return g.Wait()
}
