// Package contactsync is the worker that turns posts into contact tags.
// It reads PostEvent from "socialsync.trigger.post.<loc>" (durable
// "contactsync" on SOCIALSYNC_TRIGGERS): every contact a post lists ends
// up with the contact tag "<prefix><tag name>" for each social tag of the
// post, and loses it when no post of the contact carries the tag any
// more (the post dropped it, was deleted, or no longer lists the
// contact). It publishes ContactTagsChanged on
// "socialsync.event.contact.<loc>" for every contact of a post event,
// changed or not: the automation worker (services/automation) keeps the
// contacts' segment membership from them, and fires saved workflows, in
// its own process, so that neither delays a contact tag.
//
// A post event may also name contacts by email, phone number or an id of
// the sending system (PostEvent.contacts): refs.go finds their HighLevel
// contacts, or creates them where the location's mapping says so, and
// caches the answers in "socialsync_contact_refs" under keyed hashes; a
// reference it cannot resolve is dead-lettered alone.
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
//
// Its durable on SOCIALSYNC_EVENTS reads TagChanged
// ("socialsync.event.tag.<loc>"): a social tag deleted in Social Planner
// leaves the contacts socialsync gave it to, a renamed one is replaced by
// its new name (tagevents.go), through the same planned, stored writes.
package contactsync

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/run"
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

// DefaultTriggerConcurrency is the post triggers a replica handles at
// once when Config.TriggerConcurrency is 0.
const DefaultTriggerConcurrency = 256

// Config is the contactsync worker's configuration.
type Config struct {
	fleet.Config
	Concurrency int `envconfig:"CONTACTSYNC_CONCURRENCY" default:"4" desc:"tag events, HighLevel contact webhooks this replica handles at once"`
	// TriggerConcurrency is how many post triggers a replica handles at
	// once (0: DefaultTriggerConcurrency): the pool their contact tag
	// writes are merged from (merge.go).
	TriggerConcurrency int `envconfig:"CONTACTSYNC_TRIGGER_CONCURRENCY" default:"256" desc:"post triggers this replica handles at once; while a location is paced up to three quarters of them wait to have their contact tag writes merged"`
	// TagPrefix starts every contact tag contactsync applies; it keeps
	// them apart from the tags people add by hand.
	TagPrefix string `envconfig:"CONTACT_TAG_PREFIX" default:"social:" desc:"prefix of the contact tags standing for social tags"`
	// BulkMin is the least number of contacts needing the same change
	// that go through the bulk tags endpoint rather than one call each.
	BulkMin int `envconfig:"CONTACTSYNC_BULK_MIN" default:"2" desc:"contacts needing the same tag change from which the bulk endpoint is used"`
	// ReconcileCheck is how often the reconciliation schedules (the
	// mappings' reconcile.every) are looked at.
	ReconcileCheck time.Duration `envconfig:"CONTACTSYNC_RECONCILE_CHECK" default:"1m" desc:"how often scheduled reconciliations (a mapping's reconcile.every) are checked; 0 turns the schedules off"`
}

// Worker is the contactsync worker. Its process runs its Routes.
type Worker struct {
	cfg  Config
	deps Deps
	h    *handler
	log  *slog.Logger
	now  func() time.Time
	// merger merges the contact tag writes of concurrent handlers of a
	// location (merge.go); bulkSizes is what it learnt of HighLevel's
	// bulk maximum per location.
	merger    *contacttags.Merger
	bulkSizes *contacttags.BulkSizes
	// skipped counts the tags left out (metrics.go).
	skipped metric.Int64Counter
	// beforeCommit, set by tests only, runs between a contact's HighLevel
	// writes and the storing of its state; an error it returns fails the
	// event there, as a crash or a NATS failure would.
	beforeCommit func(contact string) error
	// remapChunk, set by tests only, is how many contacts a template
	// re-application does together (0: contacttags.BulkMax).
	remapChunk int
}

// New returns the worker using d, after checking its settings.
func New(cfg Config, d Deps) (*Worker, error) {
	var errs []error
	if cfg.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_CONCURRENCY: want at least 1, got %d", fleet.ErrConfig, cfg.Concurrency))
	}
	if strings.TrimSpace(cfg.TagPrefix) == "" {
		// Without a prefix, removing a tag a post dropped would also
		// remove the same tag added by hand.
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACT_TAG_PREFIX: must not be empty", fleet.ErrConfig))
	}
	if cfg.TriggerConcurrency < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_TRIGGER_CONCURRENCY: want at least 1 (0: the default, %d), got %d", fleet.ErrConfig, DefaultTriggerConcurrency, cfg.TriggerConcurrency))
	}
	if cfg.TriggerConcurrency == 0 {
		cfg.TriggerConcurrency = DefaultTriggerConcurrency
	}
	if cfg.BulkMin < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_BULK_MIN: want at least 1, got %d", fleet.ErrConfig, cfg.BulkMin))
	}
	if cfg.ReconcileCheck < 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_CONTACTSYNC_RECONCILE_CHECK: want 0 or more, got %s", fleet.ErrConfig, cfg.ReconcileCheck))
	}
	if cfg.TokenKey == "" {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_TOKEN_KEY: is required: contact references are cached under keys hashed with a key derived from it", fleet.ErrConfig))
	}
	if d.Publisher == nil || d.Pacer == nil || d.Client == nil || d.Catalogues == nil || d.Details == nil ||
		d.Relations == nil || d.ContactRefs == nil || d.Mappings == nil || d.States == nil || d.DeadLetters == nil || d.Purge == nil || d.Log == nil {
		errs = append(errs, errors.New("contactsync: incomplete dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if d.Budget.Max == 0 {
		d.Budget.Max, d.Budget.Window = ratelimit.DefaultMax, ratelimit.DefaultWindow
	}
	if d.Budget.Daily == 0 {
		d.Budget.Daily = ratelimit.DefaultDaily
	}
	w := &Worker{cfg: cfg, deps: d, log: d.Log.With("worker", "contactsync"), now: time.Now}
	w.skipped = w.newSkippedCounter()
	w.bulkSizes = contacttags.NewBulkSizes(func() time.Time { return w.now() })
	w.merger = contacttags.NewMerger(func(loc string) contacttags.Tagger { return d.Client(loc) }, cfg.BulkMin, w.bulkSizes)
	if b, ok := d.Pacer.(contacttags.Budget); ok {
		// The governor: calls wait for more writes while a location's
		// budget runs short (merge.go).
		w.merger.PaceBy(b)
	}
	w.h = &handler{w: w, store: &store{catalogues: d.Catalogues, details: d.Details, relations: d.Relations}, locks: bus.NewStripes(bus.StripeCount(contactStripes)),
		refs: newRefKeys(cfg.TokenKey), merging: newMerging(max(cfg.TriggerConcurrency*3/4, 1))}
	// The dead letters are erased where the process can list and delete
	// them (OpenStores' can); a handler test's fake leaves them.
	dls, _ := d.DeadLetters.(DeadLetterStore)
	eraser, err := NewEraser(EraserDeps{Relations: d.Relations, ContactRefs: d.ContactRefs, Publisher: d.Publisher,
		DeadLetters: dls, Purge: d.Purge, TokenKey: cfg.TokenKey, Now: func() time.Time { return w.now() }})
	if err != nil {
		return nil, err
	}
	w.h.eraser = eraser
	return w, nil
}

// Routes are contactsync's consumers: post triggers on its
// SOCIALSYNC_TRIGGERS durable, tag events (deleted and renamed tags) on
// its SOCIALSYNC_EVENTS durable, HighLevel's contact webhooks on its
// second SOCIALSYNC_TRIGGERS durable (highlevel.go),
// reconciliation requests on its reconcile durable and changed contact-tag
// templates on its remap durable (one at a time: each is a long, paced
// run).
func (w *Worker) Routes() []bus.Route {
	return []bus.Route{
		{Stream: topology.StreamTriggers, Durable: topology.DurableContactSync, Handler: ratelimit.InLane(ghl.LaneInteractive, w.h.edge), Concurrency: w.cfg.TriggerConcurrency},
		{Stream: topology.StreamEvents, Durable: topology.DurableContactSync, Handler: ratelimit.InLane(ghl.LaneBackground, w.h.edgeTag), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamTriggers, Durable: topology.DurableHighLevelContacts, Handler: ratelimit.InLane(ghl.LaneBackground, w.h.edgeHighLevel), Concurrency: w.cfg.Concurrency},
		{Stream: topology.StreamTriggers, Durable: topology.DurableReconcile, Handler: ratelimit.InLane(ghl.LaneBackground, w.h.edgeReconcile), Concurrency: 1},
		{Stream: topology.StreamTriggers, Durable: topology.DurableRemap, Handler: ratelimit.InLane(ghl.LaneBackground, w.h.edgeRemap), Concurrency: 1},
	}
}

// Loops are the reconciliation scheduler, when the process has the
// locations (Deps.Locations) and SOCIALSYNC_CONTACTSYNC_RECONCILE_CHECK is
// not 0.
func (w *Worker) Loops() []run.Loop {
	if w.deps.Locations == nil || w.cfg.ReconcileCheck <= 0 {
		return nil
	}
	return []run.Loop{{Name: "reconcile scheduler", Run: w.scheduleReconciliations}}
}

// SetClock makes the worker read the time from now (tests pin it): the
// instants of its events and records, and which contacts reconciliation
// leaves out as written in the last minute.
func (w *Worker) SetClock(now func() time.Time) { w.now = now }
