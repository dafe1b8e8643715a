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
// catalogue the fetcher keeps in "socialsync_tags"; an event naming a tag
// the catalogue does not hold yet waits for the fetcher, unless the
// enricher's details ("socialsync_tag_details") say the tag was deleted:
// a deleted tag is left out.
package contactsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/settings"
)

// UnknownTagRetry is how long an event naming a tag the catalogue lacks
// waits before it is tried again, for the fetcher to catch up. After the
// consumer's last delivery it becomes a dead letter naming the tags.
const UnknownTagRetry = 2 * time.Second

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
}

// Worker is the contactsync worker.
type Worker struct {
	cfg  Config
	deps *fleet.Deps
	log  *slog.Logger
	now  func() time.Time
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
	if d == nil {
		errs = append(errs, errors.New("contactsync: no dependencies"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Worker{cfg: cfg, deps: d, log: d.Log.With("worker", "contactsync"), now: time.Now}, nil
}

// Run handles post events until ctx ends; it returns nil then. It fails
// when the consumer cannot run (its durable is gone, the connection is
// closed).
func (w *Worker) Run(ctx context.Context) error {
	tags, err := w.deps.JS.KeyValue(ctx, bus.BucketTags)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketTags, err)
	}
	details, err := w.deps.JS.KeyValue(ctx, bus.BucketTagDetails)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketTagDetails, err)
	}
	relations, err := w.deps.JS.KeyValue(ctx, bus.BucketRelations)
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", bus.BucketRelations, err)
	}
	h := &handler{w: w, store: &store{tags: tags, details: details, relations: relations}, locks: newStripes()}
	if h.settings, err = settings.Open(ctx, w.deps.JS); err != nil {
		return err
	}
	cons, err := w.deps.Consumer(bus.StreamTriggers, bus.DurableContactSync, h.handle, w.cfg.Concurrency)
	if err != nil {
		return err
	}
	return cons.Run(ctx)
}
