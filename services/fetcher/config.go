package fetcher

import (
	"errors"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet"
)

// Config is the fetcher's configuration, read from the environment with
// envconfig, prefix SOCIALSYNC_.
type Config struct {
	fleet.Config

	// Concurrency is how many messages of each durable one replica
	// handles at once.
	Concurrency int `envconfig:"FETCHER_CONCURRENCY" default:"4" desc:"messages the fetcher handles at once, per consumer"`
	// RefreshInterval is the least time between two catalogue fetches of
	// one location; zero fetches on every pending refresh.
	RefreshInterval time.Duration `envconfig:"FETCHER_REFRESH_INTERVAL" default:"1s" desc:"least time between two tag catalogue fetches of one location"`
	// CatalogueEvery is how often each location's catalogue is refreshed
	// when no post trigger asked for it; zero: only on triggers.
	CatalogueEvery time.Duration `envconfig:"FETCHER_CATALOGUE_EVERY" default:"15m" desc:"how often each location's tag catalogue is refreshed without a post trigger, so deleted and renamed tags are noticed in quiet locations (0: only on triggers)"`
	// PollInterval is how often the posts poller lists each location's
	// posts; zero turns the poller off.
	PollInterval time.Duration `envconfig:"FETCHER_POLL_INTERVAL" default:"0" desc:"how often to poll each location's posts for changes (0: off)"`
	// PollWindow is how far before and after now the poller lists posts
	// by display date.
	PollWindow time.Duration `envconfig:"FETCHER_POLL_WINDOW" default:"720h" desc:"posts polled: display date within this much of now"`
}

// Validate checks the fetcher's settings and the shared ones, naming the
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
		bad("FETCHER_CONCURRENCY", "want 1 to 256, got %d", c.Concurrency)
	}
	if c.RefreshInterval < 0 || c.RefreshInterval > time.Hour {
		bad("FETCHER_REFRESH_INTERVAL", "want 0 to 1h, got %s", c.RefreshInterval)
	}
	if c.CatalogueEvery < 0 || (c.CatalogueEvery > 0 && c.CatalogueEvery < time.Second) || c.CatalogueEvery > 24*time.Hour {
		bad("FETCHER_CATALOGUE_EVERY", "want 0 (only on triggers) or 1s to 24h, got %s", c.CatalogueEvery)
	}
	if c.PollInterval < 0 || (c.PollInterval > 0 && c.PollInterval < time.Second) {
		bad("FETCHER_POLL_INTERVAL", "want 0 (off) or at least 1s, got %s", c.PollInterval)
	}
	if c.PollWindow < time.Hour {
		bad("FETCHER_POLL_WINDOW", "want at least 1h, got %s", c.PollWindow)
	}
	return errors.Join(errs...)
}
