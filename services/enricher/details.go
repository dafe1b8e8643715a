package enricher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/relations"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/enricher/enrichment"
)

// handleDetails fetches, stores and mirrors the details of the requested
// tags, batch by batch, and publishes a TagDetailsStored per batch.
//
// A redelivered request calls HighLevel's details call again (a read)
// but writes nothing twice: equal details are not stored again, the
// location's contact tags are listed before any is created, and the
// events' message ids derive from the request, so the duplicate window
// drops the repeats.
func (w *Worker) handleDetails(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.TagDetailsRequested
	loc, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	ids, err := enrichment.RequestedTags(req.GetTagIds())
	if err != nil {
		return bus.Permanent(err)
	}
	cause, err := bus.MsgID(msg.Subject(), &req)
	if err != nil {
		return bus.Permanent(err)
	}
	return w.enrich(ctx, loc, ids, cause)
}

// enrich fetches, stores and mirrors the details of loc's tags ids, and
// announces them; cause names the request in the events' message ids.
func (w *Worker) enrich(ctx context.Context, loc string, ids []string, cause string) error {
	l, err := w.location(ctx, loc)
	if err != nil {
		return err
	}
	subject, err := topology.TagDetailsEvents.Subject(loc)
	if err != nil {
		return bus.Permanent(err)
	}
	client := w.deps.Client(loc)
	// The contact tags are named as contactsync names them: by the
	// location's mapping, else by the prefix.
	prefix := func(name string) string { return enrichment.ContactTagName(w.cfg.ContactTagPrefix, name) }
	naming, err := w.deps.Naming.ContactTagNaming(ctx, loc, prefix, bus.LoggerFrom(ctx))
	if err != nil {
		return fmt.Errorf("mapping of %s: %w", loc, err)
	}
	m := mirror{client: client, loc: loc, naming: naming, disable: func(scope string) error {
		return w.deps.Locations.DisableFeature(ctx, loc, creds.FeatureLocationTags, scope)
	}, record: func(tag, name, id string) error { return w.recordMirrored(ctx, loc, tag, name, id) }}
	if !w.cfg.MirrorLocationTags {
		m.off = true
	} else if d, off := l.FeatureDisabled(creds.FeatureLocationTags); off {
		m.off = true
		bus.LoggerFrom(ctx).Debug("contact tags not mirrored: the token lacks a scope", "scope", d.Scope)
	}
	for i, batch := range slices.Collect(slices.Chunk(ids, ghl.TagDetailsBatch)) {
		tags, err := client.TagDetails(ctx, loc, batch)
		if err != nil {
			return fmt.Errorf("tag details of %s: %w", loc, err)
		}
		details := toDetails(tags, batch)
		if len(details) == 0 {
			continue // none of these ids exists (any more)
		}
		for _, d := range details {
			if err := w.storeDetail(ctx, loc, d); err != nil {
				return err
			}
		}
		// Create the contact tags before announcing the details, so that
		// contactsync finds them in the catalogue.
		if err := m.ensure(ctx, details); err != nil {
			return err
		}
		ev := &socialsyncv1.TagDetailsStored{LocationId: loc, RetrievedAt: timestamppb.New(w.now())}
		for _, d := range details {
			ev.TagDetails = append(ev.TagDetails, fromDetail(d))
		}
		id := fmt.Sprintf("tagdetailsstored:%s:%s:%d", loc, cause, i)
		if _, err := w.deps.Publisher.Publish(ctx, subject, ev, bus.WithMsgID(id)); err != nil {
			return fmt.Errorf("publish details of %d tags: %w", len(details), err)
		}
	}
	return nil
}

// mirror creates the contact tags of one location that mirror its social
// tags. It lists the location's contact tags once, on first use.
//
// Mirroring is off unless Config.MirrorLocationTags turns it on, and
// optional then (creds.FeatureLocationTags): when HighLevel
// refuses a scope it needs, disable records that on the location and the
// details are announced without it, with no refresh of the token and no
// re-authorisation.
type mirror struct {
	client  Client
	loc     string
	naming  func(string) string
	disable func(scope string) error
	// record notes that the location tag id, named name, was created
	// for social tag tag (unmirror.go).
	record   func(tag, name, id string) error
	off      bool
	listed   bool
	existing []string
}

// ensure creates the contact tags of details that the location lacks.
func (m *mirror) ensure(ctx context.Context, details []enrichment.Detail) error {
	if m.off {
		return nil
	}
	if !m.listed {
		tags, err := m.client.LocationTags(ctx, m.loc)
		if off, derr := m.scopeRefused(err); off || derr != nil {
			return derr
		}
		if err != nil {
			return fmt.Errorf("list contact tags of %s: %w", m.loc, err)
		}
		for _, t := range tags {
			m.existing = append(m.existing, t.Name)
		}
		m.listed = true
	}
	// A transient failure of one create (a 5xx, a timeout, a dropped
	// connection) does not stop the others: the redelivery then has only
	// the failed ones left, so a catalogue of hundreds of tags is mirrored
	// in a few deliveries even when HighLevel fails now and then, instead
	// of one delivery per failure with a backoff doubling each time.
	// Anything else (rate limited, a permit to wait for, a refusal) stops
	// at once.
	var failed []error // retryable, every one
	owners := enrichment.MirrorTagIDs(details, m.naming)
	for _, name := range enrichment.MissingContactTags(m.existing, details, m.naming) {
		tag, err := m.client.EnsureLocationTag(ctx, m.loc, name)
		if off, derr := m.scopeRefused(err); off || derr != nil {
			return derr
		}
		if err != nil {
			err = fmt.Errorf("create contact tag %q in %s: %w", name, m.loc, err)
			if class, _ := bus.Classify(err); class != bus.ClassRetryable || ctx.Err() != nil {
				return err
			}
			failed = append(failed, err)
			continue
		}
		if tag.Name == "" {
			tag.Name = name
		}
		if owner := owners[enrichment.ContactTagKey(name)]; owner != "" && tag.ID != "" {
			if err := m.record(owner, tag.Name, tag.ID); err != nil {
				return err
			}
		}
		m.existing = append(m.existing, tag.Name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d contact tags of %s not created, the first: %w", len(failed), m.loc, failed[0])
	}
	return nil
}

// scopeRefused turns mirroring off when err is HighLevel refusing the
// token a scope. It reports whether it did, and the error of recording it.
func (m *mirror) scopeRefused(err error) (bool, error) {
	var se *ghl.ScopeError
	if !errors.As(err, &se) {
		return false, nil
	}
	m.off = true
	if derr := m.disable(se.MissingScope()); derr != nil {
		return true, fmt.Errorf("turn off contact tag mirroring for %s: %w", m.loc, derr)
	}
	return true, nil
}

// storeDetail stores d under "<loc>.<tagId>" unless what is stored is
// equal or newer.
func (w *Worker) storeDetail(ctx context.Context, loc string, d enrichment.Detail) error {
	key := relations.DetailsKey(loc, d.ID)
	for attempt := 1; ; attempt++ {
		stored, rev, err := w.loadDetail(ctx, key)
		if err != nil {
			return err
		}
		if !enrichment.Replaces(d, stored) {
			return nil
		}
		data, err := protojson.Marshal(fromDetail(d))
		if err != nil {
			return fmt.Errorf("encode details of tag %s: %w", d.ID, err)
		}
		err = w.deps.Details.Put(ctx, key, data, rev)
		if err == nil || attempt == maxWriteAttempts || !isConflict(err) {
			return err
		}
	}
}

// loadDetail returns the details stored at key (nil when none) and the
// revision. Unreadable details count as none, to be replaced.
func (w *Worker) loadDetail(ctx context.Context, key string) (*enrichment.Detail, uint64, error) {
	data, rev, err := w.deps.Details.Get(ctx, key)
	if err != nil || data == nil {
		return nil, rev, err
	}
	var pb socialsyncv1.TagDetail
	if err := protojson.Unmarshal(data, &pb); err != nil {
		bus.LoggerFrom(ctx).WarnContext(ctx, "stored tag details unreadable; replacing them", "err", err)
		return nil, rev, nil
	}
	d := toDetailFromPB(&pb)
	return &d, rev, nil
}

// toDetails converts HighLevel's tags into details, keeping only the
// requested ids with valid ids.
func toDetails(tags []ghl.SocialTag, requested []string) []enrichment.Detail {
	want := make(map[string]bool, len(requested))
	for _, id := range requested {
		want[id] = true
	}
	var out []enrichment.Detail
	for _, t := range tags {
		if !ghl.ValidID(t.ID) || !want[t.ID] {
			continue
		}
		delete(want, t.ID)
		out = append(out, enrichment.Detail{
			ID: t.ID, Name: t.Tag, Deleted: t.Deleted, CreatedBy: t.CreatedBy,
			CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		})
	}
	return out
}

// fromDetail converts a detail into its message form, also its stored
// form.
func fromDetail(d enrichment.Detail) *socialsyncv1.TagDetail {
	return &socialsyncv1.TagDetail{
		TagId:     d.ID,
		TagName:   d.Name,
		Deleted:   d.Deleted,
		CreatedBy: d.CreatedBy,
		CreatedAt: timestamp(d.CreatedAt),
		UpdatedAt: timestamp(d.UpdatedAt),
	}
}

// toDetailFromPB converts a stored detail.
func toDetailFromPB(pb *socialsyncv1.TagDetail) enrichment.Detail {
	return enrichment.Detail{
		ID:        pb.GetTagId(),
		Name:      pb.GetTagName(),
		Deleted:   pb.GetDeleted(),
		CreatedBy: pb.GetCreatedBy(),
		CreatedAt: timeOf(pb.GetCreatedAt()),
		UpdatedAt: timeOf(pb.GetUpdatedAt()),
	}
}

// timestamp converts t, leaving the zero time unset.
func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeOf converts ts, an unset one to the zero time.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}
