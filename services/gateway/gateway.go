// Package gateway is socialsync's front door, served on
// SOCIALSYNC_HTTP_ADDR beside /healthz, /readyz and /metrics:
//
//   - POST /v1/webhooks/posts: post events from other systems, signed with
//     a shared secret per source (webhook.go), stored in JetStream before
//     they are acknowledged;
//   - POST /v1/highlevel/webhooks: HighLevel's app webhooks, signed by
//     HighLevel (highlevel.go), stored in JetStream before they are
//     acknowledged;
//   - GET /oauth/callback: HighLevel's redirect of the hosted OAuth flow
//     (oauth.go), whose code the stats worker exchanges: the gateway holds
//     no token key and no client secret;
//   - /v1/...: the REST API for API keys (api.go and the files it names),
//     documented in openapi.yaml;
//   - /: the dashboard (web/), live through server-sent events fed by an
//     ordered consumer on socialsync.event.> (events.go).
//
// Every replica serves everything; the gateway keeps no durable consumer.
package gateway

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/audit"
	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/sources"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Config is the gateway's configuration. Secrets are read here and never
// printed: --help shows no defaults for them.
type Config struct {
	fleet.Config
	// WebhookSecret is the secret of the source "default".
	WebhookSecret string `envconfig:"WEBHOOK_SECRET" desc:"shared secret of webhook requests that name no source (at least 16 characters)"`
	// WebhookSecrets lists source:secret pairs; a source listed twice has
	// two secrets (for rotation).
	WebhookSecrets string `envconfig:"WEBHOOK_SECRETS" desc:"per-source webhook secrets: source:secret,source:secret (a source may be listed twice while rotating)"`
	// HighLevelWebhookKey is the public key HighLevel signs its webhooks
	// with (X-GHL-Signature); HighLevelWebhookLegacyKey the retired RSA
	// key (X-WH-Signature), accepted only while it is set.
	HighLevelWebhookKey       string `envconfig:"HIGHLEVEL_WEBHOOK_KEY" desc:"HighLevel's Ed25519 webhook public key (PEM or base64) for X-GHL-Signature; POST /v1/highlevel/webhooks answers 404 without it"`
	HighLevelWebhookLegacyKey string `envconfig:"HIGHLEVEL_WEBHOOK_LEGACY_KEY" desc:"HighLevel's legacy RSA webhook public key (PEM or base64); when set, X-WH-Signature is accepted from requests without X-GHL-Signature"`
	// APIKeyHashes lists the accepted API keys: their hex SHA-256
	// digests, each with its scopes and locations (parseKeyHashes).
	APIKeyHashes     string        `envconfig:"API_KEY_HASHES" desc:"the accepted API keys (required): hex SHA-256 digests, each optionally :scope+scope[:LOC,LOC] (scopes read, trigger, definitions, deadletters, admin); entries separated by ';' or white space (plain digests also by ',')"`
	WebhookMaxBytes  int64         `envconfig:"WEBHOOK_MAX_BYTES" default:"65536" desc:"largest webhook or API request body accepted"`
	WebhookTolerance time.Duration `envconfig:"WEBHOOK_TOLERANCE" default:"5m" desc:"how far a webhook signature's timestamp may be from now"`
	PublishTimeout   time.Duration `envconfig:"GATEWAY_PUBLISH_TIMEOUT" default:"5s" desc:"how long a request waits for JetStream before answering 429"`
	BodyTimeout      time.Duration `envconfig:"GATEWAY_BODY_TIMEOUT" default:"10s" desc:"how long a request body may take to arrive before the request is answered 408 and its connection closed"`
	MaxSSEClients    int           `envconfig:"GATEWAY_MAX_SSE_CLIENTS" default:"100" desc:"open event streams (GET /v1/events) per replica; more are answered 503"`
	// TrustIncomingTrace lets an authenticated request continue its
	// caller's trace (see guarded).
	TrustIncomingTrace bool `envconfig:"TRUST_INCOMING_TRACE" default:"true" desc:"authenticated requests (API key, valid webhook signature) continue the caller's W3C trace context; when false, and always for the others, a request starts a new trace linked to the caller's"`
	// PublicURL and OAuthTimeout serve the hosted OAuth flow (oauth.go).
	PublicURL    string        `envconfig:"PUBLIC_URL" desc:"the gateway's public URL; HighLevel redirects to <it>/oauth/callback (register it with the app), and an install started in the Marketplace is exchanged with it"`
	OAuthTimeout time.Duration `envconfig:"GATEWAY_OAUTH_TIMEOUT" default:"20s" desc:"how long /oauth/callback and an INSTALL or UNINSTALL webhook wait for the worker that holds the credentials"`
	// GHLAuthURL is HighLevel's authorization page, for the URLs of
	// POST /v1/oauth/authorizations (with the app's client id,
	// SOCIALSYNC_GHL_CLIENT_ID; never its secret).
	GHLAuthURL string `envconfig:"GHL_AUTH_URL" default:"https://marketplace.gohighlevel.com/oauth/chooselocation" desc:"HighLevel's authorization page, for POST /v1/oauth/authorizations (the simulator's: <its URL>/oauth/chooselocation)"`
}

// Gateway serves the webhook, the API and the dashboard.
type Gateway struct {
	cfg     Config
	deps    *fleet.Deps
	log     *slog.Logger
	secrets map[string][][]byte
	// unknownSource is a random secret that a request naming an unknown
	// source is checked against (see verify).
	unknownSource [][]byte
	keys          []apiKey
	now           func() time.Time
	// highLevel are HighLevel's webhook keys; hlIgnored counts the
	// deliveries of types socialsync does not act on.
	highLevel highLevelKeys
	hlIgnored metric.Int64Counter
	// heldRefused counts the triggers refused for a location held back
	// too long; audit is the audit log (lifecycle.go).
	heldRefused metric.Int64Counter
	audit       *audit.Log

	kv       buckets
	reports  jetstream.ObjectStore
	governor *ratelimit.Governor
	// sources are the webhook sources' bindings (admit).
	sources *sources.Store
	// authRequests are the hosted OAuth flow's issued states (oauth.go).
	authRequests *creds.AuthRequests
	hub          *hub
	rates        *sampler
	spans        telemetry.ServerSpans
}

type buckets struct {
	tags, details, relations, history, webhook jetstream.KeyValue
}

// New checks the gateway's settings and mounts its handler on the fleet's
// HTTP server (deps.Health).
func New(cfg Config, d *fleet.Deps) (*Gateway, error) {
	if d == nil {
		return nil, errors.New("gateway: no dependencies")
	}
	secrets, err1 := parseWebhookSecrets(cfg.WebhookSecret, cfg.WebhookSecrets)
	keys, err2 := parseKeyHashes(cfg.APIKeyHashes)
	hlKeys, err3 := parseHighLevelKeys(cfg.HighLevelWebhookKey, cfg.HighLevelWebhookLegacyKey)
	var errs []error
	errs = append(errs, err1, err2, err3)
	if cfg.WebhookMaxBytes < 1024 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WEBHOOK_MAX_BYTES: want at least 1024, got %d", fleet.ErrConfig, cfg.WebhookMaxBytes))
	}
	if cfg.WebhookTolerance <= 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_WEBHOOK_TOLERANCE: want a positive duration", fleet.ErrConfig))
	}
	if cfg.PublishTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_GATEWAY_PUBLISH_TIMEOUT: want a positive duration", fleet.ErrConfig))
	}
	if cfg.BodyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_GATEWAY_BODY_TIMEOUT: want a positive duration", fleet.ErrConfig))
	}
	if err := checkPublicURL(cfg.PublicURL); err != nil {
		errs = append(errs, err)
	}
	if cfg.GHLAuthURL == "" { // a Config built in code
		cfg.GHLAuthURL = DefaultGHLAuthURL
	} else if err := checkAuthURL(cfg.GHLAuthURL); err != nil {
		errs = append(errs, err)
	}
	switch {
	case cfg.OAuthTimeout == 0: // a Config built in code
		cfg.OAuthTimeout = DefaultOAuthTimeout
	case cfg.OAuthTimeout < 0:
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_GATEWAY_OAUTH_TIMEOUT: want a positive duration", fleet.ErrConfig))
	}
	if cfg.MaxSSEClients < 1 {
		errs = append(errs, fmt.Errorf("%w: SOCIALSYNC_GATEWAY_MAX_SSE_CLIENTS: want at least 1, got %d", fleet.ErrConfig, cfg.MaxSSEClients))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, deps: d, log: d.Log.With("component", "gateway"), secrets: secrets, keys: keys, now: time.Now, highLevel: hlKeys,
		unknownSource: [][]byte{[]byte(rand.Text())}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.OpenBuckets(ctx, d.JS, map[string]*jetstream.KeyValue{
		topology.BucketTags: &g.kv.tags, topology.BucketTagDetails: &g.kv.details, topology.BucketRelations: &g.kv.relations,
		topology.BucketStatsHistory: &g.kv.history, topology.BucketWebhookEvents: &g.kv.webhook,
	}); err != nil {
		return nil, err
	}
	var err error
	if g.reports, err = d.JS.ObjectStore(ctx, topology.ObjectStoreReports); err != nil {
		return nil, fmt.Errorf("open object store %s: %w", topology.ObjectStoreReports, err)
	}
	if g.sources, err = sources.Open(ctx, d.JS); err != nil {
		return nil, err
	}
	if g.authRequests, err = creds.OpenAuthRequests(ctx, d.JS); err != nil {
		return nil, err
	}
	g.governor = d.Governor
	g.hlIgnored = g.newIgnoredCounter()
	g.heldRefused = g.newHeldRefusedCounter()
	g.audit = audit.New(d.JS, func() time.Time { return g.now() })
	g.hub = newHub(cfg.MaxSSEClients)
	g.rates = newSampler()
	g.spans = d.Telemetry.ServerSpans("gateway")
	if len(secrets) == 0 {
		g.log.Warn("webhooks disabled: set SOCIALSYNC_WEBHOOK_SECRET or SOCIALSYNC_WEBHOOK_SECRETS")
	}
	g.warnSources(ctx)
	d.Health.Handle("/", g.Handler())
	return g, nil
}

// Run feeds the live updates until ctx ends; the handler is served by the
// fleet's HTTP server. Open event streams end when Run returns.
func (g *Gateway) Run(ctx context.Context) error {
	defer g.hub.close()
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return g.feed(ctx) })
	return eg.Wait()
}

// Handler returns the gateway's routes. /healthz, /readyz and /metrics
// are the fleet server's.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := map[string]bool{}
	handle := func(pattern string, h http.Handler) {
		routes[pattern] = true
		mux.Handle(pattern, h)
	}
	handle("POST /v1/webhooks/posts", g.guarded(g.signed(g.webhook)))
	handle("POST /v1/highlevel/webhooks", g.guarded(g.highLevelSigned(g.highLevelWebhook)))
	for _, rt := range g.apiRoutes() {
		handle(rt.pattern, g.authenticated(rt.scope, g.audited(rt)))
	}
	public := func(pattern string, h http.Handler) { handle(pattern, g.public(h)) }
	public("GET /v1/openapi.yaml", http.HandlerFunc(serveOpenAPI))
	public("GET "+CallbackPath, http.HandlerFunc(g.oauthCallback))
	public("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+clip(r.URL.Path, 128))
	}))
	public("GET /{$}", dashboard())
	public("GET /static/", dashboard())
	// Each route starts its own server span once it knows whether the
	// caller authenticated (trace.go); the requests no route takes get an
	// untrusted one here.
	return g.bounded(securityHeaders(g.counted(g.unrouted(mux, routes))))
}

// apiRoute is a route of the API and the scope an API key needs for it.
type apiRoute struct {
	pattern string
	scope   scope
	handler http.HandlerFunc
}

// apiRoutes are the routes that take an API key. A route belongs here
// with the scope it needs: webhook sources and other fleet-wide settings
// need scopeAdmin.
func (g *Gateway) apiRoutes() []apiRoute {
	return []apiRoute{
		{"GET /v1/me", scopeAny, g.me},
		{"GET /v1/locations", scopeRead, g.listLocations},
		{"GET /v1/locations/health", scopeRead, g.locationsHealth},
		{"GET /v1/locations/{loc}", scopeRead, g.getLocation},
		{"GET /v1/locations/{loc}/tags", scopeRead, g.listTags},
		{"GET /v1/locations/{loc}/tags/{tag}", scopeRead, g.getTag},
		{"GET /v1/locations/{loc}/stats", scopeRead, g.listStats},
		{"GET /v1/locations/{loc}/reports", scopeRead, g.listReports},
		{"GET /v1/locations/{loc}/reports/latest", scopeRead, g.latestReport},
		{"GET /v1/locations/{loc}/reports/range", scopeRead, g.rangeReport},
		{"GET /v1/locations/{loc}/recommendations", scopeRead, g.getRecommendations},
		{"GET /v1/locations/{loc}/segments", scopeRead, g.locationSegments},
		{"GET /v1/locations/{loc}/settings", scopeRead, g.getSettings},
		{"PUT /v1/locations/{loc}/settings/mapping", scopeAdmin, g.putMapping},
		{"PUT /v1/locations/{loc}/settings/stats", scopeAdmin, g.putSchedule},
		{"GET /v1/segments", scopeRead, g.listDefinitions(automation.Segments)},
		{"PUT /v1/segments", scopeDefinitions, g.applyDefinitions(automation.Segments)},
		{"GET /v1/segments/{name}", scopeRead, g.getSegment},
		{"DELETE /v1/segments/{name}", scopeDefinitions, g.deleteDefinition(automation.Segments)},
		{"GET /v1/workflows", scopeRead, g.listDefinitions(automation.Workflows)},
		{"PUT /v1/workflows", scopeDefinitions, g.applyDefinitions(automation.Workflows)},
		{"GET /v1/workflows/{name}", scopeRead, g.getWorkflow},
		{"DELETE /v1/workflows/{name}", scopeDefinitions, g.deleteDefinition(automation.Workflows)},
		{"POST /v1/locations/{loc}/triggers/post", scopeTrigger, g.triggerPost},
		{"POST /v1/locations/{loc}/triggers/tagdetails", scopeTrigger, g.triggerTagDetails},
		{"POST /v1/locations/{loc}/triggers/stats", scopeTrigger, g.triggerStats},
		// A reconciliation is a trigger: the location's mapping, not the
		// caller, decides whether it repairs.
		{"POST /v1/locations/{loc}/reconcile", scopeTrigger, g.startReconcile},
		{"GET /v1/locations/{loc}/reconcile", scopeRead, g.getReconciliation},
		{"GET /v1/locations/{loc}/remap", scopeRead, g.getRemap},
		{"GET /v1/deadletters", scopeRead, g.listDeadLetters},
		{"GET /v1/deadletters/{seq}", scopeRead, g.getDeadLetter},
		{"POST /v1/deadletters/{seq}/replay", scopeDeadLetters, g.replayDeadLetter},
		{"POST /v1/deadletters/replay", scopeDeadLetters, g.replayDeadLetters},
		{"GET /v1/pipeline", scopeRead, g.pipeline},
		{"GET /v1/events", scopeRead, g.events},
		// Who may speak for which location: the admin scope alone.
		{"GET /v1/sources", scopeAdmin, g.listSources},
		{"GET /v1/sources/{source}", scopeAdmin, g.getSource},
		{"PUT /v1/sources/{source}", scopeAdmin, g.putSource},
		{"DELETE /v1/sources/{source}", scopeAdmin, g.deleteSource},
		// The location lifecycle and the audit log (lifecycle.go).
		{"POST /v1/locations/{loc}/pause", scopeAdmin, g.pauseLocation},
		{"POST /v1/locations/{loc}/resume", scopeAdmin, g.resumeLocation},
		{removeRoute, scopeAdmin, g.removeLocation},
		{"GET /v1/locations/{loc}/removal", scopeRead, g.getRemoval},
		{"GET /v1/audit", scopeAdmin, g.listAudit},
		// The hosted OAuth flow's authorization URL, for the dashboard.
		{"POST /v1/oauth/authorizations", scopeAdmin, g.createAuthorization},
		// The test console (console.go): test calls spend the location's
		// budget, as a trigger does; contacts' personal data in the raw
		// answers is shown to admin keys only.
		{"POST /v1/locations/{loc}/doctor", scopeTrigger, g.runDoctor},
	}
}

// securityHeaders keeps the dashboard from being framed or sniffed and
// allows only its own scripts and styles.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
