package cli

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	automationworker "github.com/socialsync/socialsync/services/automation"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/enricher"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/stats"
)

// runConfig is the all-in-one's configuration: the fleet's, plus where the
// embedded parts live. Every worker's own settings are read by its Config.
type runConfig struct {
	fleet.Config
	DataDir string `envconfig:"DATA_DIR" default:".socialsync" desc:"where the embedded NATS server and the generated token key live"`
	// fleet.Config's SOCIALSYNC_HTTP_ADDR defaults to 127.0.0.1:8080 here
	// (devHTTPAddr): the all-in-one is a development fleet.
	// NATSPort is the embedded server's port when SOCIALSYNC_NATS_URL is unset.
	NATSPort    int           `envconfig:"EMBEDDED_NATS_PORT" default:"4222" desc:"port of the embedded NATS server (when SOCIALSYNC_NATS_URL is unset)"`
	SandboxAddr string        `envconfig:"SANDBOX_ADDR" default:"127.0.0.1:8090" desc:"address of the embedded simulator (when SOCIALSYNC_GHL_BASE_URL is unset)"`
	DemoEvery   time.Duration `envconfig:"DEMO_EVERY" default:"3s" desc:"interval of the demo post events with the simulator; 0 turns them off"`
	StatusEvery time.Duration `envconfig:"STATUS_EVERY" default:"30s" desc:"interval of the status lines printed when standard output is not a terminal (on a terminal one line is kept current every second); 0 turns the status off"`
}

// runCmd starts the whole pipeline in one process: an embedded NATS
// JetStream server unless SOCIALSYNC_NATS_URL is set, the simulator with
// demo locations unless SOCIALSYNC_GHL_BASE_URL is set, and every worker.
func runCmd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "run", "Run the whole pipeline in one process on embedded defaults.\n\n"+
		"Environment (every worker's variables apply too; see docs/workers.md):\n"+usageOf(&runConfig{}))
	if err := parse(fs, args); err != nil {
		return err
	}
	var cfg runConfig
	if err := envconfig.Process("socialsync", &cfg); err != nil {
		return fmt.Errorf("%w: %v", fleet.ErrConfig, err)
	}
	if cfg.StatusEvery < 0 {
		return fmt.Errorf("%w: SOCIALSYNC_STATUS_EVERY: want 0 (no status) or a positive duration, got %s", fleet.ErrConfig, cfg.StatusEvery)
	}
	_, natsSet := os.LookupEnv("SOCIALSYNC_NATS_URL")
	_, ghlSet := os.LookupEnv("SOCIALSYNC_GHL_BASE_URL")
	if _, set := os.LookupEnv("SOCIALSYNC_HTTP_ADDR"); !set {
		// A development fleet with a printed API key and a development
		// webhook secret: reachable from this machine only, as printed.
		// The deployed workers keep the fleet's default (every interface).
		cfg.HTTPAddr = devHTTPAddr
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("SOCIALSYNC_DATA_DIR: %w", err)
	}
	if cfg.TokenKey == "" {
		key, err := devTokenKey(filepath.Join(cfg.DataDir, "token.key"))
		if err != nil {
			return err
		}
		cfg.TokenKey = key
	}
	var started []string

	if !natsSet {
		ns, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: filepath.Join(cfg.DataDir, "nats"), Port: cfg.NATSPort})
		if err != nil {
			return fmt.Errorf("embedded NATS (SOCIALSYNC_EMBEDDED_NATS_PORT=%d): %w", cfg.NATSPort, err)
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		cfg.NATSURL = ns.ClientURL()
		started = append(started, "NATS JetStream (embedded)   "+cfg.NATSURL+"   data in "+filepath.Join(cfg.DataDir, "nats"))
	}

	var sim *ghlsim.Simulator
	if !ghlSet {
		var err error
		if sim, err = ghlsim.New(ghlsim.Options{Seed: "demo"}); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", cfg.SandboxAddr)
		if err != nil {
			return fmt.Errorf("simulator on SOCIALSYNC_SANDBOX_ADDR=%s: %w", cfg.SandboxAddr, err)
		}
		srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() { _ = srv.Close() }()
		cfg.GHLBaseURL = "http://" + ln.Addr().String()
		started = append(started, "HighLevel simulator (demo)  "+cfg.GHLBaseURL+"   /_sandbox/locations, /_sandbox/requests")
	}

	// The all-in-one binary is its own operator: it applies the topology
	// that deployed workers wait for.
	deps, err := fleet.Connect(ctx, "socialsync", cfg.Config, fleet.Options{LogOutput: env.Stderr, ApplyTopology: true})
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // stopped while waiting for NATS, as a worker does
		}
		return err
	}
	defer deps.Close(context.WithoutCancel(ctx))
	if sim != nil {
		for _, l := range sim.Locations() {
			if err := deps.Creds.AddPIT(ctx, creds.Location{ID: l.ID, Name: l.Name, Timezone: l.Timezone}, l.Token); err != nil {
				return fmt.Errorf("register demo location %s: %w", l.ID, err)
			}
		}
	}
	// Development mode: workflow webhooks may reach receivers on this
	// machine (loopback), over http too. A deployed automation worker refuses
	// loopback whatever its allow-list says, unless a CIDR names it.
	components, err := workers(cfg.Config, deps, true)
	if err != nil {
		return err
	}
	started = append(started, "workflow webhooks           may reach loopback (development mode); otherwise see SOCIALSYNC_WORKFLOW_WEBHOOK_ALLOWED_HOSTS")
	gw, devKey, err := devGateway(cfg, deps)
	if err != nil {
		return err
	}
	components = append(components, fleet.Component{Name: "gateway", Run: gw.Run})
	if sim != nil && cfg.DemoEvery > 0 {
		d := &demo{deps: deps, base: cfg.GHLBaseURL, sim: sim, every: cfg.DemoEvery}
		components = append(components, fleet.Component{Name: "demo", Run: d.run})
		started = append(started, fmt.Sprintf("demo post events            every %s on %d locations", cfg.DemoEvery, len(sim.Locations())))
	}
	if err := deps.Health.Listen(); err != nil {
		return fmt.Errorf("SOCIALSYNC_HTTP_ADDR: %w", err)
	}
	started = append(started, "workers                     fetcher, enricher, stats, contactsync, automation",
		"dashboard and API           http://"+hostPort(cfg.HTTPAddr)+"/   (webhooks: POST /v1/webhooks/posts)",
		"health and metrics          http://"+hostPort(cfg.HTTPAddr)+"/readyz, /metrics",
		"listening on                "+listening(deps.Health.Addr()))

	fmt.Fprintln(env.Stdout, "socialsync is running:")
	for _, s := range started {
		fmt.Fprintln(env.Stdout, "  "+s)
	}
	if sim != nil {
		fmt.Fprintf(env.Stdout, "\nWatch contacts get tagged: curl -s %s/_sandbox/locations/%s | jq .contacts\n", cfg.GHLBaseURL, sim.Locations()[0].ID)
	}
	if devKey != "" {
		fmt.Fprintf(env.Stdout, "\nDashboard: http://%s/ — sign in with the development API key %s\n"+
			"(kept in %s; set SOCIALSYNC_API_KEY_HASHES to use your own keys)\n",
			hostPort(cfg.HTTPAddr), devKey, filepath.Join(cfg.DataDir, "api.key"))
	}
	fmt.Fprintf(env.Stdout, "Dead letters: socialsync dlq --nats %s\nStop with Ctrl-C.\n", cfg.NATSURL)
	if cfg.StatusEvery > 0 {
		components = append(components, fleet.Component{Name: "status", Run: newStatusReporter(env.Stdout, cfg.StatusEvery, fleetStatus(deps)).run})
	}
	return deps.Serve(ctx, components...)
}

// Workers builds the five workers on the shared dependencies, each with its
// own settings read from the environment and base as the shared ones: the
// same composition `socialsync run` and the benchmarks use.
func Workers(base fleet.Config, deps *fleet.Deps) ([]fleet.Component, error) {
	return workers(base, deps, false)
}

// workers is Workers; webhookLoopback lets workflow webhooks reach
// loopback addresses (`socialsync run`'s development mode).
func workers(base fleet.Config, deps *fleet.Deps, webhookLoopback bool) ([]fleet.Component, error) {
	var fc fetcher.Config
	var ec enricher.Config
	var sc stats.Config
	var cc contactsync.Config
	var ac automationworker.Config
	for _, c := range []any{&fc, &ec, &sc, &cc, &ac} {
		if err := envconfig.Process("socialsync", c); err != nil {
			return nil, fmt.Errorf("%w: %v", fleet.ErrConfig, err)
		}
	}
	fc.Config, ec.Config, sc.Config, cc.Config, ac.Config = base, base, base, base, base
	ac.WebhookAllowLoopback = webhookLoopback
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // opening the stores
	defer cancel()
	f, err := NewFetcher(ctx, fc, deps)
	if err != nil {
		return nil, err
	}
	e, err := NewEnricher(ctx, ec, deps)
	if err != nil {
		return nil, err
	}
	s, err := NewStats(ctx, sc, deps)
	if err != nil {
		return nil, err
	}
	c, err := NewContactSync(ctx, cc, deps)
	if err != nil {
		return nil, err
	}
	a, err := NewAutomation(ctx, ac, deps)
	if err != nil {
		return nil, err
	}
	var components []fleet.Component
	for _, w := range []struct {
		name string
		w    fleet.Worker
	}{{"fetcher", f}, {"enricher", e}, {"stats", s}, {"contactsync", c}, {"automation", a}} {
		cs, err := deps.Components(w.name, w.w)
		if err != nil {
			return nil, err
		}
		components = append(components, cs...)
	}
	return components, nil
}

// devGateway builds the gateway on the shared dependencies. Without
// SOCIALSYNC_API_KEY_HASHES it uses a development API key kept in the data
// directory (returned, to be printed), and without webhook secrets a
// development secret kept beside it.
func devGateway(cfg runConfig, deps *fleet.Deps) (*gateway.Gateway, string, error) {
	var gc gateway.Config
	if err := envconfig.Process("socialsync", &gc); err != nil {
		return nil, "", fmt.Errorf("%w: %v", fleet.ErrConfig, err)
	}
	gc.Config = cfg.Config
	var devKey string
	if strings.TrimSpace(gc.APIKeyHashes) == "" {
		key, err := devSecret(filepath.Join(cfg.DataDir, "api.key"), "sk-dev-")
		if err != nil {
			return nil, "", err
		}
		gc.APIKeyHashes, devKey = gateway.HashAPIKey(key), key
	}
	if strings.TrimSpace(gc.WebhookSecret) == "" && strings.TrimSpace(gc.WebhookSecrets) == "" {
		secret, err := devSecret(filepath.Join(cfg.DataDir, "webhook.secret"), "whsec-dev-")
		if err != nil {
			return nil, "", err
		}
		gc.WebhookSecret = secret
	}
	gw, err := gateway.New(gc, deps)
	return gw, devKey, err
}

// devSecret reads the development secret at path, or creates it: prefix
// and 32 random hex digits.
func devSecret(path, prefix string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 16)
	if _, err := cryptorand.Read(raw); err != nil {
		return "", err
	}
	secret := prefix + hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return secret, nil
}

// devTokenKey reads the development token key at path, or creates it.
func devTokenKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	key := creds.NewKey()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// devHTTPAddr is where `socialsync run` serves the gateway unless
// SOCIALSYNC_HTTP_ADDR says otherwise.
const devHTTPAddr = "127.0.0.1:8080"

// listening describes a bound address: loopback only, or every interface.
func listening(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && ip != nil && ip.IsLoopback() {
		return addr + " (this machine only)"
	}
	return addr + " (every interface: reachable from the network)"
}

func hostPort(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return "127.0.0.1" + addr
	}
	return addr
}

func usageOf(spec any) string {
	var b strings.Builder
	_ = fleet.Usage(&b, spec)
	return b.String()
}

// demo makes the simulator behave like a busy Social Planner: every few
// seconds a new post with some of the location's tags, linked to a few
// contacts, and the post event another system would publish for it.
type demo struct {
	deps  *fleet.Deps
	base  string
	sim   *ghlsim.Simulator
	every time.Duration
}

func (d *demo) run(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	locs := d.sim.Locations()
	for _, l := range locs {
		subject, _ := topology.StatsTriggers.Subject(l.ID)
		if _, err := d.deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: l.ID, RequestedBy: "demo"}); err != nil {
			d.deps.Log.Warn("demo stats trigger", "location", l.ID, "err", err)
		}
		// A first post per location fills its tag catalogue at once, so
		// the dashboard has every location's tags within seconds.
		if err := d.post(ctx, rng, l.ID); err != nil {
			d.deps.Log.Warn("demo post", "location", l.ID, "err", err)
		}
	}
	t := time.NewTicker(d.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		l := locs[rng.IntN(len(locs))]
		if err := d.post(ctx, rng, l.ID); err != nil {
			d.deps.Log.Warn("demo post", "location", l.ID, "err", err)
		}
	}
}

func (d *demo) post(ctx context.Context, rng *rand.Rand, loc string) error {
	var detail ghlsim.LocationView
	if err := getSandbox(ctx, d.base+"/_sandbox/locations/"+loc, &detail); err != nil {
		return err
	}
	var tags, contacts []string
	for _, i := range rng.Perm(len(detail.SocialTags)) {
		if t := detail.SocialTags[i]; !t.Deleted && len(tags) < 1+rng.IntN(3) {
			tags = append(tags, t.ID)
		}
	}
	for _, i := range rng.Perm(len(detail.Contacts)) {
		if c := detail.Contacts[i]; !c.Deleted && len(contacts) < 1+rng.IntN(4) {
			contacts = append(contacts, c.ID)
		}
	}
	platforms := []string{"facebook", "instagram", "linkedin", "google"}
	var post struct {
		ID string `json:"_id"`
	}
	if err := postSandbox(ctx, d.base+"/_sandbox/locations/"+loc+"/posts",
		map[string]any{"tags": tags, "platform": platforms[rng.IntN(len(platforms))]}, &post); err != nil {
		return err
	}
	subject, err := topology.PostTriggers.Subject(loc)
	if err != nil {
		return err
	}
	_, err = d.deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{
		LocationId: loc, PostId: post.ID, Change: socialsyncv1.Change_CHANGE_CREATED, TagIds: tags, ContactIds: contacts,
		OccurredAt: timestamppb.Now(), Source: ids.DefaultSource, EventId: "demo:" + loc + ":" + post.ID,
	})
	return err
}
