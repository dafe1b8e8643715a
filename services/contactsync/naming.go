package contactsync

import (
	"context"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/contacttags"
)

// naming returns how loc's contact tags are named: by the contact-tag
// template of the location's mapping ("mappings.<loc>" in
// socialsync_settings), else by SOCIALSYNC_CONTACT_TAG_PREFIX.
func (h *handler) naming(ctx context.Context, loc string) (func(string) string, error) {
	prefix := func(name string) string { return contacttags.ContactTag(h.w.cfg.TagPrefix, name) }
	return h.w.deps.Mappings.ContactTagNaming(ctx, loc, prefix, bus.LoggerFrom(ctx))
}
