package enricher

import (
	"errors"
	"fmt"
	"strings"

	"github.com/socialsync/socialsync/pkg/fleet"
)

// maxPrefixLen bounds the contact tag prefix, leaving room for the tag
// name in a contact tag.
const maxPrefixLen = 32

// Config is the enricher's configuration, read from the environment with
// envconfig, prefix SOCIALSYNC_.
type Config struct {
	fleet.Config

	// Concurrency is how many messages of each durable one replica
	// handles at once.
	Concurrency int `envconfig:"ENRICHER_CONCURRENCY" default:"4" desc:"messages the enricher handles at once, per consumer"`
	// ContactTagPrefix starts the name of the contact tag mirroring a
	// social tag: "social:" + "Summer Sale". contactsync puts the same
	// names on contacts.
	ContactTagPrefix string `envconfig:"CONTACT_TAG_PREFIX" default:"social:" desc:"prefix of the contact tags that mirror social tags"`
	// MirrorLocationTags makes the enricher create, in each location's
	// contact tag list, the contact tag of every social tag as soon as
	// its details are fetched, so that it can be picked in HighLevel
	// before any contact carries it. Off, a contact tag enters the list
	// when contactsync first puts it on a contact, as HighLevel adds a
	// contact's new tag to the list.
	MirrorLocationTags bool `envconfig:"ENRICHER_MIRROR_LOCATION_TAGS" default:"false" desc:"create every social tag's contact tag in the location's tag list before any contact carries it (one call per tag)"`
}

// Validate checks the enricher's settings and the shared ones, naming the
// variable that is wrong.
func (c Config) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_%s: %s", fleet.ErrConfig, name, fmt.Sprintf(format, args...)))
	}
	if c.Concurrency < 1 || c.Concurrency > 256 {
		bad("ENRICHER_CONCURRENCY", "want 1 to 256, got %d", c.Concurrency)
	}
	switch p := c.ContactTagPrefix; {
	case strings.TrimSpace(p) == "":
		bad("CONTACT_TAG_PREFIX", "must not be empty: it tells socialsync's contact tags from everyone else's")
	case len(p) > maxPrefixLen:
		bad("CONTACT_TAG_PREFIX", "want at most %d bytes, got %d", maxPrefixLen, len(p))
	case strings.ContainsRune(p, ','):
		bad("CONTACT_TAG_PREFIX", "must not contain a comma (HighLevel splits tag lists on commas)")
	}
	return errors.Join(errs...)
}
