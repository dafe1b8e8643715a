package gateway_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
)

// A bad setting stops the gateway with an error naming the variable, and
// never quoting a secret.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	env := fleettest.Start(t, "empty")
	deps := gatewayDeps(t, env)
	const secret = "tooshort-secret"
	for name, c := range map[string]struct {
		change func(*gateway.Config)
		says   string
	}{
		"no api keys":       {func(c *gateway.Config) { c.APIKeyHashes = "" }, "SOCIALSYNC_API_KEY_HASHES: is required"},
		"api key in clear":  {func(c *gateway.Config) { c.APIKeyHashes = secret }, "SOCIALSYNC_API_KEY_HASHES: entry 1"},
		"unknown key scope": {func(c *gateway.Config) { c.APIKeyHashes = gateway.HashAPIKey(secret) + ":all" }, "SOCIALSYNC_API_KEY_HASHES: entry 1: unknown scope \"all\""},
		"short secret":      {func(c *gateway.Config) { c.WebhookSecret = secret }, "SOCIALSYNC_WEBHOOK_SECRET: the secret of source \"default\" is shorter"},
		"secret, no source": {func(c *gateway.Config) { c.WebhookSecrets = secret + "-0123456789" }, "SOCIALSYNC_WEBHOOK_SECRETS: entry 1: want source:secret"},
		"bad source":        {func(c *gateway.Config) { c.WebhookSecrets = "a b:" + secret + "-0123456789" }, "SOCIALSYNC_WEBHOOK_SECRETS: source \"a b\""},
		"the API's source":  {func(c *gateway.Config) { c.WebhookSecrets = "api:" + secret + "-0123456789" }, "SOCIALSYNC_WEBHOOK_SECRETS: source \"api\" is the REST API's own"},
		"tiny body limit":   {func(c *gateway.Config) { c.WebhookMaxBytes = 10 }, "SOCIALSYNC_WEBHOOK_MAX_BYTES"},
		"no tolerance":      {func(c *gateway.Config) { c.WebhookTolerance = 0 }, "SOCIALSYNC_WEBHOOK_TOLERANCE"},
		"no publish wait":   {func(c *gateway.Config) { c.PublishTimeout = 0 }, "SOCIALSYNC_GATEWAY_PUBLISH_TIMEOUT"},
		"public URL":        {func(c *gateway.Config) { c.PublicURL = "socialsync.example" }, "SOCIALSYNC_PUBLIC_URL"},
		"oauth wait":        {func(c *gateway.Config) { c.OAuthTimeout = -time.Second }, "SOCIALSYNC_GATEWAY_OAUTH_TIMEOUT"},
		"auth page":         {func(c *gateway.Config) { c.GHLAuthURL = "marketplace" }, "SOCIALSYNC_GHL_AUTH_URL"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(deps)
			c.change(&cfg)
			_, err := gateway.New(cfg, deps)
			if err == nil || !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v; want a configuration error saying %q", err, c.says)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
	// Two secrets for one source, while rotating, are both accepted.
	cfg := testConfig(deps)
	cfg.WebhookSecrets = "crm:" + crmSecret + ",crm:whsec-crm-next-0123456789"
	if _, err := gateway.New(cfg, deps); err != nil {
		t.Fatal(err)
	}
}
