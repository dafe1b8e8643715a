package contactsync

import (
	"context"
	"errors"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/services/contactsync/core"
)

// naming returns how loc's contact tags are named: by the contact-tag
// template of the location's mapping ("mappings.<loc>" in
// socialsync_settings), read for every event so that a change applies to
// the next one, else by SOCIALSYNC_CONTACT_TAG_PREFIX. A failed read is
// an error (the event is retried: guessing the naming would swap every
// tag of its contacts); a stored mapping that does not decode or validate
// (mappings are validated when saved, so only a hand-written value) falls
// back to the prefix, with a warning.
func (h *handler) naming(ctx context.Context, loc string) (func(string) string, error) {
	prefix := func(name string) string { return core.ContactTag(h.w.cfg.TagPrefix, name) }
	m, ok, err := settings.GetMapping(ctx, h.settings, loc)
	switch {
	case errors.Is(err, settings.ErrInvalid):
		bus.LoggerFrom(ctx).Warn("mapping unreadable; naming contact tags by the prefix", "err", err)
		return prefix, nil
	case err != nil:
		return nil, err
	case !ok || m.ContactTag == "":
		return prefix, nil
	case m.Validate() != nil:
		bus.LoggerFrom(ctx).Warn("mapping invalid; naming contact tags by the prefix", "err", m.Validate())
		return prefix, nil
	}
	return m.ContactTagFor, nil
}
