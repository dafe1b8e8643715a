package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/telemetry"
)

// Config is what every socialsync process reads from the environment with
// envconfig, prefix SOCIALSYNC_ (so NATSURL is SOCIALSYNC_NATS_URL). A
// worker's Config embeds it.
type Config struct {
	NATSURL    string `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URL(s), comma-separated"`
	NATSCreds  string `envconfig:"NATS_CREDS" desc:"path of a NATS credentials file"`
	GHLBaseURL string `envconfig:"GHL_BASE_URL" default:"https://services.leadconnectorhq.com" desc:"HighLevel API base URL (the simulator's for tests)"`
	HTTPAddr   string `envconfig:"HTTP_ADDR" default:":8080" desc:"address of /healthz, /readyz and /metrics"`
	// TokenKey is the keyring sealing tokens at rest: base64 32-byte keys,
	// comma-separated, the first one sealing new records.
	TokenKey        string        `envconfig:"TOKEN_KEY" desc:"base64 32-byte key(s) sealing tokens at rest, newest first (required)"`
	StreamReplicas  int           `envconfig:"STREAM_REPLICAS" default:"1" desc:"replicas of streams, consumers and buckets (3 on a cluster)"`
	ShutdownTimeout time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"20s" desc:"time to finish in-flight work on SIGTERM"`
	LogLevel        string        `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat       string        `envconfig:"LOG_FORMAT" default:"json" desc:"json or text"`

	Telemetry telemetry.Config `envconfig:""`
}

// ErrConfig marks a configuration error; the message names the variable.
var ErrConfig = errors.New("configuration")

// Validate checks the shared settings, naming the variable that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_%s: %s", ErrConfig, name, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.NATSURL) == "" {
		bad("NATS_URL", "must not be empty")
	}
	if u, err := url.Parse(c.GHLBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("GHL_BASE_URL", "want an http(s) URL, got %q", c.GHLBaseURL)
	}
	if c.TokenKey == "" {
		bad("TOKEN_KEY", "is required: base64 of 32 random bytes (for example: openssl rand -base64 32)")
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
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", "want json or text, got %q", c.LogFormat)
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
		NATSURL:         "nats://127.0.0.1:4222",
		GHLBaseURL:      DefaultGHLBaseURL,
		HTTPAddr:        ":8080",
		StreamReplicas:  1,
		ShutdownTimeout: 20 * time.Second,
		LogLevel:        "info",
		LogFormat:       "json",
	}
}
