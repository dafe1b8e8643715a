package fleet_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// DefaultConfig must say what the struct tags say.
func TestDefaultConfigMatchesTags(t *testing.T) {
	var fromTags fleet.Config
	if err := envconfig.Process("socialsync_fleet_test_unset", &fromTags); err != nil {
		t.Fatal(err)
	}
	fromTags.Telemetry = fleet.Config{}.Telemetry
	if got := fleet.DefaultConfig(); got != fromTags {
		t.Fatalf("DefaultConfig() = %+v\nstruct tags say  %+v", got, fromTags)
	}
}

func TestValidateNamesTheVariable(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fleet.Config)
		want   string
	}{
		{"no token key", func(c *fleet.Config) { c.TokenKey = "" }, "SOCIALSYNC_TOKEN_KEY"},
		{"bad base url", func(c *fleet.Config) { c.GHLBaseURL = "ftp://x" }, "SOCIALSYNC_GHL_BASE_URL"},
		{"bad replicas", func(c *fleet.Config) { c.StreamReplicas = 0 }, "SOCIALSYNC_STREAM_REPLICAS"},
		{"bad level", func(c *fleet.Config) { c.LogLevel = "loud" }, "SOCIALSYNC_LOG_LEVEL"},
		{"bad format", func(c *fleet.Config) { c.LogFormat = "xml" }, "SOCIALSYNC_LOG_FORMAT"},
		{"retry horizon beyond a stream's max age", func(c *fleet.Config) { c.RetryHorizon = 72 * time.Hour }, "SOCIALSYNC_RETRY_HORIZON"},
		{"no retry horizon", func(c *fleet.Config) { c.RetryHorizon = 0 }, "SOCIALSYNC_RETRY_HORIZON"},
		{"no crash limit", func(c *fleet.Config) { c.CrashLimit = 0 }, "SOCIALSYNC_CRASH_LIMIT"},
		{"negative lease", func(c *fleet.Config) { c.RateLease = -1 }, "SOCIALSYNC_RATE_LEASE"},
		{"daily reset not a duration", func(c *fleet.Config) { c.RateDailyReset = "05:30" }, "SOCIALSYNC_RATE_DAILY_RESET"},
		{"daily reset a day or more", func(c *fleet.Config) { c.RateDailyReset = "24h" }, "SOCIALSYNC_RATE_DAILY_RESET"},
		{"daily reset negative", func(c *fleet.Config) { c.RateDailyReset = "-1h" }, "SOCIALSYNC_RATE_DAILY_RESET"},
		{"daily reset not whole seconds", func(c *fleet.Config) { c.RateDailyReset = "1h0.5s" }, "SOCIALSYNC_RATE_DAILY_RESET"},
		{"refresh margin within the permit wait", func(c *fleet.Config) { c.TokenRefreshMargin = c.RateMaxWait }, "SOCIALSYNC_TOKEN_REFRESH_MARGIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fleet.DefaultConfig()
			c.TokenKey = creds.NewKey()
			tt.change(&c)
			err := c.Validate()
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.want)
			}
		})
	}
	c := fleet.DefaultConfig()
	c.TokenKey = "not-a-key"
	if _, err := fleet.Connect(context.Background(), "t", c, fleet.Options{}); err == nil || !strings.Contains(err.Error(), "SOCIALSYNC_TOKEN_KEY") {
		t.Fatalf("Connect with a bad key: %v", err)
	}
}

// A process that opens no token (the gateway) refuses to start with the
// token key or the client secret in its environment, and needs neither.
func TestWithoutTokensRefusesTheKey(t *testing.T) {
	for name, c := range map[string]struct {
		change func(*fleet.Config)
		want   string
	}{
		"token key":     {func(c *fleet.Config) { c.TokenKey = creds.NewKey() }, "SOCIALSYNC_TOKEN_KEY: must not be set"},
		"client secret": {func(c *fleet.Config) { c.GHLClientID, c.GHLClientSecret = "app", "s3cret-value" }, "SOCIALSYNC_GHL_CLIENT_SECRET: must not be set"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := fleet.DefaultConfig()
			c.change(&cfg)
			_, err := fleet.Connect(context.Background(), "gateway", cfg, fleet.Options{NoTokenKey: true})
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Connect without tokens: %v, want an error saying %q", err, c.want)
			}
			if (cfg.TokenKey != "" && strings.Contains(err.Error(), cfg.TokenKey)) || strings.Contains(err.Error(), "s3cret-value") {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
	cfg := fleet.DefaultConfig()
	cfg.GHLClientID = "app" // the id alone is no secret
	if err := cfg.ValidateWithoutTokens(); err != nil {
		t.Fatalf("ValidateWithoutTokens with no key: %v", err)
	}
}

// A connected fleet serves its probes, reaches the simulator with the
// stored tokens, and stops cleanly.
func TestServe(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.Deps.Serve(ctx) }()
	fleettest.Eventually(t, 5*time.Second, "/readyz 200", func() bool {
		addr := env.Deps.Health.Addr()
		if addr == "" {
			return false
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	loc := env.Locations[0].ID
	tags, err := env.Deps.Client(loc).AllSocialTags(ctx, loc)
	if err != nil || len(tags) == 0 {
		t.Fatalf("AllSocialTags through the stored token: %d tags, %v", len(tags), err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

// SOCIALSYNC_RATE_DAILY_RESET, read from the environment: unset is no
// configured reset (nil), a duration of whole seconds under a day is the
// reset's time after midnight UTC, anything else an error naming it.
func TestDailyResetFromTheEnvironment(t *testing.T) {
	read := func(value string, set bool) (*time.Duration, error) {
		if set {
			t.Setenv("SOCIALSYNC_RATE_DAILY_RESET", value)
		}
		var c fleet.Config
		if err := envconfig.Process("socialsync", &c); err != nil {
			t.Fatal(err)
		}
		c.TokenKey = creds.NewKey()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return fleet.ParseDailyReset(c.RateDailyReset)
	}
	if d, err := read("", false); err != nil || d != nil {
		t.Errorf("unset: %v, %v; want none", d, err)
	}
	for value, want := range map[string]time.Duration{"0s": 0, "5h30m15s": 5*time.Hour + 30*time.Minute + 15*time.Second, "23h59m59s": 24*time.Hour - time.Second} {
		if d, err := read(value, true); err != nil || d == nil || *d != want {
			t.Errorf("%q: %v, %v; want %v", value, d, err, want)
		}
	}
	for _, value := range []string{"24h", "-1s", "1h0.5s", "05:30", "noon"} {
		if _, err := read(value, true); !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), "SOCIALSYNC_RATE_DAILY_RESET") {
			t.Errorf("%q: %v, want an error naming SOCIALSYNC_RATE_DAILY_RESET", value, err)
		}
	}
}

// The governor's configuration is the one struct of SOCIALSYNC_RATE_*
// variables the workers and the CLI read; a bad value names its variable.
func TestGovernorConfigOfTheRateSettings(t *testing.T) {
	c := fleet.DefaultConfig()
	c.RateMax, c.RateWindow, c.RateDaily, c.RateLease, c.RateDailyReset = 7, 3*time.Second, 900, 0, "5h30m"
	c.RateMaxWait, c.RateMaxDefer, c.RatePreviousBudgets = time.Second, time.Minute, true
	rc, err := c.GovernorConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Max != 7 || rc.Window != 3*time.Second || rc.Daily != 900 || rc.Lease != 0 || rc.MaxWait != time.Second ||
		rc.MaxDefer != time.Minute || rc.DailyReset == nil || *rc.DailyReset != 5*time.Hour+30*time.Minute ||
		rc.FlightBound <= ghl.DefaultAttemptTimeout || rc.PreviousReaders == nil || !rc.PreviousReaders() {
		t.Errorf("GovernorConfig = %+v", rc)
	}
	for name, bad := range map[string]func(*fleet.RateSettings){
		"SOCIALSYNC_RATE_LEASE":       func(r *fleet.RateSettings) { r.RateLease = -1 },
		"SOCIALSYNC_RATE_DAILY_RESET": func(r *fleet.RateSettings) { r.RateDailyReset = "05:30" },
	} {
		r := fleet.DefaultConfig().RateSettings
		bad(&r)
		if _, err := r.GovernorConfig(nil); !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), name) {
			t.Errorf("bad %s: %v", name, err)
		}
	}
}
