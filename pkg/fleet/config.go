package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Config is what every socialsync process reads from the environment with
// envconfig, prefix SOCIALSYNC_ (so NATSURL is SOCIALSYNC_NATS_URL). A
// worker's Config embeds it.
type Config struct {
	NATSURL   string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL(s), comma-separated"`
	NATSCreds string `envconfig:"NATS_CREDS" desc:"path of a NATS credentials file"`
	// NATS is the connection's reply prefix and TLS.
	NATS       NATSClient `envconfig:""`
	GHLBaseURL string     `envconfig:"GHL_BASE_URL" default:"https://services.leadconnectorhq.com" desc:"HighLevel API base URL (the simulator's for tests)"`
	HTTPAddr   string     `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /healthz, /readyz and /metrics"`
	// TokenKey is the keyring sealing tokens at rest: base64 32-byte keys,
	// comma-separated, the first one sealing new records.
	TokenKey        string        `envconfig:"TOKEN_KEY" desc:"base64 32-byte key(s) sealing tokens at rest, newest first (required)"`
	StreamReplicas  int           `envconfig:"STREAM_REPLICAS" default:"1" desc:"replicas of streams, consumers and buckets (3 on a cluster)"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s" desc:"time to finish in-flight work on SIGTERM"`
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat       string        `envconfig:"LOG_FORMAT" default:"json" desc:"json or text"`
	// The OAuth app whose tokens the store refreshes; unset for PITs only.
	GHLClientID        string        `envconfig:"GHL_CLIENT_ID" desc:"OAuth client id of the HighLevel app (for refreshing OAuth tokens)"`
	GHLClientSecret    string        `envconfig:"GHL_CLIENT_SECRET" desc:"OAuth client secret of the HighLevel app"`
	TokenRefreshMargin time.Duration `envconfig:"TOKEN_REFRESH_MARGIN" default:"5m" desc:"refresh an OAuth access token this long before it expires"`
	// The fleet-wide HighLevel request budget per location (read alone by
	// the CLI's commands that call HighLevel, see RateSettings).
	RateSettings
	// How long failing work is retried, and how often a message may take
	// its process down, before it becomes a dead letter.
	RetryHorizon time.Duration `envconfig:"RETRY_HORIZON" default:"24h" desc:"how long after it was published a message whose handling keeps failing is retried before it becomes a dead letter; shorter than every stream's max age"`
	CrashLimit   int           `envconfig:"CRASH_LIMIT" default:"3" desc:"deliveries of one message that may end without a settle (the process died) before it becomes a dead letter unhandled"`
	// How long a paused location's triggers are kept, and how often its
	// held messages are looked at again (docs/lifecycle.md).
	PauseMax     time.Duration `envconfig:"PAUSE_MAX" default:"720h" desc:"how long a paused location (or one needing re-authorisation) has its new triggers accepted and kept; afterwards the gateway refuses them with 503; shorter than the triggers stream's max age"`
	PauseRecheck time.Duration `envconfig:"PAUSE_RECHECK" default:"1m" desc:"how long a held message of a paused location waits before it is looked at again (at most this long after a resume before the work resumes)"`

	// Limits size the streams, buckets and object store.
	Limits StorageLimits `envconfig:"LIMIT"`
	// Retention says how long what may be personal data is kept.
	Retention Retention `envconfig:"RETENTION"`

	Telemetry telemetry.Config `envconfig:""`
}

// RateSettings is the fleet-wide HighLevel request budget per location:
// every process must be given the same values. Config embeds it; a
// command that calls HighLevel reads it alone with
// envconfig.Process("socialsync", &r) and opens the governor with
// r.GovernorConfig, as the workers do.
type RateSettings struct {
	RateMax             int           `envconfig:"RATE_MAX" default:"100" desc:"HighLevel requests per location in one rate window, fleet-wide"`
	RateWindow          time.Duration `envconfig:"RATE_WINDOW" default:"10s" desc:"HighLevel's rolling rate window"`
	RateDaily           int64         `envconfig:"RATE_DAILY" default:"200000" desc:"HighLevel requests per location and day (from one daily reset to the next), fleet-wide"`
	RateDailyReset      string        `envconfig:"RATE_DAILY_RESET" desc:"when, after midnight UTC, HighLevel's daily count starts again: a Go duration of whole seconds from 0s to under 24h (5h30m: 05:30 UTC); unset, midnight UTC until a reset hour is learned from HighLevel's X-RateLimit-Daily-Remaining; set, it wins over a learned one"`
	RateMaxWait         time.Duration `envconfig:"RATE_MAX_WAIT" default:"2s" desc:"longest a handler waits for a request permit before handing its message back for later"`
	RateMaxDefer        time.Duration `envconfig:"RATE_MAX_DEFER" default:"5m" desc:"longest a message of a paced location (its window full, or its daily cap reached) is handed back for before it is looked at again"`
	RateLease           int           `envconfig:"RATE_LEASE" default:"5" desc:"permits a process leases at once per location and lane while the location's budget is far from full, taken later with no NATS round trip (at most a tenth of SOCIALSYNC_RATE_MAX, for a tenth of the window, at most 1s); 0 turns leasing off"`
	RatePreviousBudgets bool          `envconfig:"RATE_PREVIOUS_BUDGETS" default:"false" desc:"write the rate budgets in the form the previous release (v0.1.0) reads, without the lanes' times, the learned daily reset hour and leases: set it on this release's workers while replicas of v0.1.0 still run beside them (docs/operations.md)"`
}

// GovernorConfig is the rate governor's configuration of r, for a process
// whose HighLevel client bounds its attempts with ghl.DefaultAttemptTimeout
// (the workers' and the CLI's). The error names the variable.
func (r RateSettings) GovernorConfig(log *slog.Logger) (ratelimit.Config, error) {
	if errs := r.validate(); len(errs) > 0 {
		return ratelimit.Config{}, errors.Join(errs...)
	}
	dailyReset, err := ParseDailyReset(r.RateDailyReset)
	if err != nil {
		return ratelimit.Config{}, fmt.Errorf("%w: SOCIALSYNC_RATE_DAILY_RESET: %v", ErrConfig, err)
	}
	previous := r.RatePreviousBudgets
	return ratelimit.Config{Max: r.RateMax, Window: r.RateWindow, Daily: r.RateDaily, DailyReset: dailyReset,
		MaxWait: r.RateMaxWait, MaxDefer: r.RateMaxDefer, FlightBound: attemptTimeout + schedulingMargin, Lease: r.RateLease, Log: log,
		PreviousReaders: func() bool { return previous }}, nil
}

func (r RateSettings) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_%s: %s", ErrConfig, name, fmt.Sprintf(format, args...)))
	}
	if _, err := ParseDailyReset(r.RateDailyReset); err != nil {
		bad("RATE_DAILY_RESET", "%v", err)
	}
	if r.RateLease < 0 {
		bad("RATE_LEASE", "want 0 (no leasing) or more, got %d", r.RateLease)
	}
	return errs
}

// ErrConfig marks a configuration error; the message names the variable.
var ErrConfig = errors.New("configuration")

// Validate checks the shared settings of a process that holds the token
// key, naming the variable that is wrong.
func (c Config) Validate() error { return c.validate(true) }

// ValidateWithoutTokens checks the shared settings of a process that
// opens no token (the gateway): SOCIALSYNC_TOKEN_KEY and
// SOCIALSYNC_GHL_CLIENT_SECRET must not be set, so that it holds neither.
func (c Config) ValidateWithoutTokens() error { return c.validate(false) }

func (c Config) validate(tokens bool) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_%s: %s", ErrConfig, name, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.NATSURL) == "" {
		bad("NATS_URL", "must not be empty")
	}
	if err := c.NATS.Validate(c.NATSURL); err != nil {
		errs = append(errs, err)
	}
	if u, err := url.Parse(c.GHLBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("GHL_BASE_URL", "want an http(s) URL, got %q", c.GHLBaseURL)
	}
	switch {
	case tokens && c.TokenKey == "":
		bad("TOKEN_KEY", "is required: base64 of 32 random bytes (for example: openssl rand -base64 32)")
	case !tokens && c.TokenKey != "":
		bad("TOKEN_KEY", "must not be set: this process opens no token, and a key it holds is a key an intruder could take (docs/security.md)")
	}
	if !tokens && c.GHLClientSecret != "" {
		bad("GHL_CLIENT_SECRET", "must not be set: this process refreshes no token (docs/security.md)")
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		bad("STREAM_REPLICAS", "want 1 to 5, got %d", c.StreamReplicas)
	}
	if c.ShutdownTimeout <= 0 {
		bad("SHUTDOWN_TIMEOUT", "want a positive duration")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("LOG_LEVEL", "%v", err)
	}
	if tokens && (c.GHLClientID == "") != (c.GHLClientSecret == "") {
		bad("GHL_CLIENT_ID", "and SOCIALSYNC_GHL_CLIENT_SECRET go together: set both or neither")
	}
	switch {
	case c.TokenRefreshMargin < 0:
		bad("TOKEN_REFRESH_MARGIN", "want a duration of zero or more")
	case c.TokenRefreshMargin <= c.RateMaxWait:
		// The client reads the token before it waits for a permit.
		bad("TOKEN_REFRESH_MARGIN", "want more than SOCIALSYNC_RATE_MAX_WAIT (%v), got %v: a token read before the wait for a rate permit must still be valid after it",
			c.RateMaxWait, c.TokenRefreshMargin)
	}
	errs = append(errs, c.RateSettings.validate()...)
	if c.RetryHorizon <= 0 {
		bad("RETRY_HORIZON", "want a positive duration, got %v", c.RetryHorizon)
	} else if err := topology.New(topology.Options{}).CheckRetryHorizon(c.RetryHorizon); err != nil {
		bad("RETRY_HORIZON", "%v: a message must become a dead letter before its stream drops it", err)
	}
	if c.CrashLimit < 1 {
		bad("CRASH_LIMIT", "want 1 or more, got %d", c.CrashLimit)
	}
	errs = append(errs, c.validateLifecycle()...)
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "want json or text, got %q", c.LogFormat)
	}
	if err := c.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Retention.Validate(c.RetryHorizon); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// DefaultGHLBaseURL is HighLevel's API.
const DefaultGHLBaseURL = ghl.DefaultBaseURL

// DefaultConfig is Config with the defaults of its struct tags, for tests
// and for the all-in-one binary, which fill in the rest themselves.
func DefaultConfig() Config {
	return Config{
		NATSURL:            "nats://127.0.0.1:4222",
		GHLBaseURL:         DefaultGHLBaseURL,
		HTTPAddr:           ":8080",
		StreamReplicas:     1,
		ShutdownTimeout:    20 * time.Second,
		LogLevel:           "info",
		LogFormat:          "json",
		TokenRefreshMargin: 5 * time.Minute,
		RateSettings: RateSettings{
			RateMax:      100,
			RateWindow:   10 * time.Second,
			RateDaily:    200_000,
			RateMaxWait:  2 * time.Second,
			RateMaxDefer: 5 * time.Minute,
			RateLease:    5,
		},
		RetryHorizon: bus.DefaultRetryHorizon,
		CrashLimit:   bus.DefaultCrashLimit,
		PauseMax:     DefaultPauseMax,
		PauseRecheck: DefaultPauseRecheck,
		Limits:       DefaultStorageLimits(),
		Retention:    DefaultRetention(),
	}
}

// ParseDailyReset parses SOCIALSYNC_RATE_DAILY_RESET: nil when empty
// (unset: the governor assumes midnight UTC and learns the reset from
// HighLevel), else a duration of whole seconds from 0s to under 24h, the
// time after midnight UTC at which HighLevel's daily count resets.
func ParseDailyReset(s string) (*time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < 0 || d >= 24*time.Hour || d%time.Second != 0 {
		return nil, fmt.Errorf("want a Go duration of whole seconds from 0s to under 24h after midnight UTC (5h30m for 05:30 UTC), got %q", s)
	}
	return &d, nil
}
