package creds

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/bus"
)

// Defaults of the refresh coordination; see the Option functions.
const (
	DefaultRefreshMargin     = 5 * time.Minute
	DefaultLeaseTTL          = 30 * time.Second
	DefaultRefreshTimeout    = 8 * time.Second
	DefaultWaitTimeout       = 10 * time.Second
	DefaultUnauthorizedGrace = time.Minute
)

// Option adjusts Open.
type Option func(*options)

type options struct {
	refresher         Refresher
	refreshMargin     time.Duration
	leaseTTL          time.Duration
	refreshTimeout    time.Duration
	waitTimeout       time.Duration
	unauthorizedGrace time.Duration
	log               *slog.Logger
	events            *bus.Publisher
	now               func() time.Time
	owner             string
	meters            metric.MeterProvider
}

// WithRefresher lets the Store refresh OAuth tokens. Without one, an OAuth
// location works until its access token expires, then fails with
// ErrNoRefresher.
func WithRefresher(r Refresher) Option { return func(o *options) { o.refresher = r } }

// WithRefreshMargin sets how long before its expiry an access token is
// refreshed (DefaultRefreshMargin). It is capped at half the token's
// lifetime, so short-lived tokens are refreshed half-way.
func WithRefreshMargin(d time.Duration) Option { return func(o *options) { o.refreshMargin = d } }

// WithLeaseTTL sets how long a refresher's lease lasts before another
// process may take it over (DefaultLeaseTTL). It must be at least three
// times the refresh timeout: a refresher may ask the token endpoint twice.
func WithLeaseTTL(d time.Duration) Option { return func(o *options) { o.leaseTTL = d } }

// WithRefreshTimeout bounds one call to the token endpoint
// (DefaultRefreshTimeout).
func WithRefreshTimeout(d time.Duration) Option { return func(o *options) { o.refreshTimeout = d } }

// WithWaitTimeout bounds how long a TokenSource waits for another process's
// refresh when the current access token has already expired
// (DefaultWaitTimeout). After it, Token fails with a retryable error.
func WithWaitTimeout(d time.Duration) Option { return func(o *options) { o.waitTimeout = d } }

// WithUnauthorizedGrace sets the age below which a token HighLevel answered
// 401 to is not refreshed (DefaultUnauthorizedGrace, capped at a quarter of
// the token's lifetime): a 401 to a fresh token is about something else (a
// missing scope), and refreshing on it would hammer the token endpoint.
func WithUnauthorizedGrace(d time.Duration) Option {
	return func(o *options) { o.unauthorizedGrace = d }
}

// WithLogger logs refreshes and locations that need re-authorisation; the
// default discards. No token is ever logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithPublisher publishes LocationStateChanged with p instead of a
// Publisher of the Store's own.
func WithPublisher(p *bus.Publisher) Option { return func(o *options) { o.events = p } }

// WithMeterProvider records every refresh the Store makes in
// MetricTokenRefreshes.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meters = mp } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithOwner names this process in the leases it takes; the default is
// host name, process id and a random suffix.
func WithOwner(name string) Option { return func(o *options) { o.owner = name } }

func newOptions(opts []Option) (options, error) {
	o := options{
		refreshMargin:     DefaultRefreshMargin,
		leaseTTL:          DefaultLeaseTTL,
		refreshTimeout:    DefaultRefreshTimeout,
		waitTimeout:       DefaultWaitTimeout,
		unauthorizedGrace: DefaultUnauthorizedGrace,
		now:               time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case o.refreshMargin < 0, o.leaseTTL <= 0, o.refreshTimeout <= 0, o.waitTimeout <= 0, o.unauthorizedGrace < 0:
		return o, fmt.Errorf("creds: refresh margin, lease TTL, refresh timeout, wait timeout and unauthorized grace must be positive")
	case o.leaseTTL < 3*o.refreshTimeout:
		return o, fmt.Errorf("creds: lease TTL %s must be at least three times the refresh timeout %s", o.leaseTTL, o.refreshTimeout)
	}
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.owner == "" {
		o.owner = defaultOwner()
	}
	return o, nil
}

// defaultOwner names this process: host, pid and 4 random bytes, so two
// Stores of one process are two owners too.
func defaultOwner() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}
