package contactsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/settings"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// copyFields writes the tag-detail fields the location's mapping names
// (contactFields) into the custom fields of the post's linked contacts:
// each field holds the values of the post's tags, in tag name order,
// joined by ", ". Details come from the enricher's store; a tag without
// stored details yet gives its catalogue name and id only. Setting a
// field is idempotent, so a redelivered event may write it again.
func (h *handler) copyFields(ctx context.Context, loc string, tagIDs, contacts []string) error {
	if len(contacts) == 0 || len(tagIDs) == 0 {
		return nil
	}
	m, ok, err := h.w.deps.Mappings.Mapping(ctx, loc)
	switch {
	case errors.Is(err, settings.ErrInvalid):
		bus.LoggerFrom(ctx).Warn("mapping unreadable; no contact fields copied", "err", err)
		return nil
	case err != nil:
		return err
	case !ok || len(m.ContactFields) == 0 || m.Validate() != nil:
		return nil
	}
	cat, err := h.store.catalogue(ctx, loc)
	if err != nil {
		return err
	}
	names := cat.Names()
	var details []*socialsyncv1.TagDetail
	for _, id := range tagIDs {
		d, err := h.store.details.Detail(ctx, loc, id)
		if err != nil {
			return err
		}
		if d == nil {
			d = &socialsyncv1.TagDetail{TagId: id, TagName: names[id]}
		}
		if !d.GetDeleted() {
			details = append(details, d)
		}
	}
	slices.SortFunc(details, func(a, b *socialsyncv1.TagDetail) int { return strings.Compare(a.GetTagName(), b.GetTagName()) })
	client := h.w.deps.Client(loc)
	defs, err := client.ContactCustomFields(ctx, loc)
	if err != nil {
		return fmt.Errorf("custom fields of %s: %w", loc, err)
	}
	ids := map[string]string{}
	for _, d := range defs {
		ids[d.FieldKey] = d.ID
	}
	var fields []ghl.CustomFieldInput
	for _, f := range m.ContactFields {
		id := ids[f.To]
		if id == "" {
			id = ids["contact."+f.To]
		}
		if id == "" {
			return bus.Permanent(fmt.Errorf("%w: contact custom field %q of the mapping is not defined in location %s", ErrUnknownCustomField, f.To, loc))
		}
		var vals []string
		for _, d := range details {
			if v := detailField(d, f.From); v != "" {
				vals = append(vals, v)
			}
		}
		fields = append(fields, ghl.CustomFieldInput{ID: id, FieldValue: strings.Join(vals, ", ")})
	}
	for _, c := range contacts {
		if _, err := client.SetContactCustomFields(ctx, c, fields); err != nil {
			return fmt.Errorf("custom fields of contact %s: %w", c, err)
		}
	}
	return nil
}

// detailField returns a detail's field as text (times in RFC 3339, UTC).
func detailField(d *socialsyncv1.TagDetail, field string) string {
	ts := func(t interface{ AsTime() time.Time }, set bool) string {
		if !set {
			return ""
		}
		return t.AsTime().UTC().Format(time.RFC3339)
	}
	switch field {
	case "tagId":
		return d.GetTagId()
	case "tagName":
		return d.GetTagName()
	case "createdBy":
		return d.GetCreatedBy()
	case "createdAt":
		return ts(d.GetCreatedAt(), d.GetCreatedAt() != nil)
	case "updatedAt":
		return ts(d.GetUpdatedAt(), d.GetUpdatedAt() != nil)
	}
	return ""
}
