package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ratelimit"
	"github.com/socialsync/socialsync/pkg/run"
	"github.com/socialsync/socialsync/pkg/telemetry"
	"github.com/socialsync/socialsync/pkg/topology"
)

const (
	// attemptTimeout bounds each HighLevel request of the workers.
	attemptTimeout = ghl.DefaultAttemptTimeout
	// schedulingMargin is added to attemptTimeout for the rate governor's
	// flight bound: the time a busy process may take from a permit to the
	// start of its attempt.
	schedulingMargin = 5 * time.Second
)

// Deps are the shared dependencies of the workers of one process.
type Deps struct {
	Name      string
	Config    Config
	Log       *slog.Logger
	Telemetry *telemetry.Telemetry
	Conn      *nats.Conn
	JS        jetstream.JetStream
	// Schema is the fleet's schema gate: the version the process writes
	// its records (through JS) and messages (through Publisher) in.
	Schema    *bus.SchemaGate
	Topology  bus.Topology
	Publisher *bus.Publisher
	// Creds opens and refreshes tokens; nil in a process connected with
	// Options.NoTokenKey.
	Creds *creds.Store
	// Directory reads locations and their tokens' clear metadata; every
	// process has it (Creds.Directory when Creds is set).
	Directory *creds.Directory
	// GHL is the HighLevel client without a token; Client gives the one of
	// a location.
	GHL *ghl.Client
	// Governor paces every HighLevel call of the process (GHL's Limiter).
	Governor *ratelimit.Governor
	Health   *run.Server

	// registered is the location check of every consumer (Consumer):
	// bus.Registered over Creds, one cache per process.
	registered bus.Middleware
	// held defers the messages of paused locations and of those needing
	// re-authorisation (held.go).
	held *heldLocations
	// serving is set by Serve: /readyz answers 200 only once the
	// components run.
	serving atomic.Bool
	// apply is Options.ApplyTopology.
	apply bool
	// missing is what the process waits for of the topology (a
	// *bus.MissingError), nil once it is all there: the "topology"
	// readiness check.
	missing atomic.Pointer[error]
	// durables are the consumers Consumer built, which Serve waits for.
	durables []bus.ConsumerSpec
}

// Options adjust Connect for tests and for the all-in-one binary.
type Options struct {
	// LogOutput defaults to os.Stderr (set by the caller).
	LogOutput io.Writer
	// Log, when set, is used instead of a logger built from Config.
	Log *slog.Logger
	// NoTokenKey connects a process that opens no token (the gateway):
	// Config.ValidateWithoutTokens applies, Deps.Creds is nil and
	// Deps.Directory reads locations and token metadata.
	NoTokenKey bool
	// ApplyTopology makes Connect create or update the topology itself,
	// as the operator step does (socialsync topology apply), for the
	// all-in-one binary and the test harnesses. Without it, the workers'
	// and the gateway's way, the process only reads what exists and waits,
	// not ready and naming what is missing, until the topology it needs
	// has been applied.
	ApplyTopology bool
}

// Connect builds the dependencies named name ("fetcher", "socialsync", …)
// from cfg: it validates cfg, sets up telemetry, connects to NATS, waits
// for the topology's streams, buckets and object stores (or applies the
// topology, with Options.ApplyTopology), and opens the credential store.
func Connect(ctx context.Context, name string, cfg Config, opts Options) (*Deps, error) {
	var keys *creds.Keyring
	if opts.NoTokenKey {
		if err := cfg.ValidateWithoutTokens(); err != nil {
			return nil, err
		}
	} else {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		var err error
		if keys, err = creds.ParseKeyring(cfg.TokenKey); err != nil {
			return nil, fmt.Errorf("%w: SOCIALSYNC_TOKEN_KEY: %v", ErrConfig, err)
		}
	}
	log := opts.Log
	if log == nil {
		level, _ := parseLevel(cfg.LogLevel)
		out := opts.LogOutput
		if out == nil {
			out = io.Discard
		}
		log = telemetry.NewLogger(out, level, cfg.LogFormat)
	}
	log = log.With("service", name)
	// service.name is the worker's name (fetcher, enricher, …; socialsync
	// for the all-in-one binary), service.version the binary's.
	tcfg := cfg.Telemetry
	if tcfg.ServiceName == "" {
		tcfg.ServiceName = name
	}
	tcfg.Log = log
	tel, err := telemetry.Setup(ctx, tcfg)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	d := &Deps{Name: name, Config: cfg, Log: log, Telemetry: tel, apply: opts.ApplyTopology}
	// The probes answer from the start: alive, but not ready while the
	// process waits for NATS and declares its topology.
	d.Health = run.NewServer(cfg.HTTPAddr, tel.MetricsHandler(), log)
	d.Health.AddCheck("topology", func(context.Context) error {
		if err := d.missing.Load(); err != nil {
			return *err
		}
		return nil
	})
	d.Health.AddCheck("workers", func(context.Context) error {
		if !d.serving.Load() {
			return errors.New("starting")
		}
		return nil
	})
	if err := d.watchReady(); err != nil {
		d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := d.Health.Start(); err != nil {
		d.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("SOCIALSYNC_HTTP_ADDR: %w", err)
	}
	if err := d.connect(ctx, keys); err != nil {
		d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return d, nil
}

// connect connects to NATS and opens what the process uses; keys is nil
// for a process that opens no token.
func (d *Deps) connect(ctx context.Context, keys *creds.Keyring) error {
	cfg := d.Config
	nopts := []nats.Option{
		nats.Name("socialsync-" + d.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				d.Log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { d.Log.Info("nats reconnected") }),
	}
	if cfg.NATSCreds != "" {
		nopts = append(nopts, nats.UserCredentials(cfg.NATSCreds))
	}
	client, err := cfg.NATS.Options(cfg.NATSURL)
	if err != nil {
		return err
	}
	nopts = append(nopts, client...)
	var conn atomic.Pointer[nats.Conn]
	d.Health.AddCheck("nats", func(context.Context) error {
		nc := conn.Load()
		if nc == nil {
			return fmt.Errorf("waiting for NATS at %s", redactURL(cfg.NATSURL))
		}
		if !nc.IsConnected() {
			return errors.New("not connected to NATS")
		}
		return nil
	})
	nc, err := d.dial(ctx, cfg.NATSURL, nopts)
	if err != nil {
		return err
	}
	d.Conn = nc
	conn.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	d.JS = js
	topts := cfg.Limits.Topology(cfg.StreamReplicas)
	cfg.Retention.Apply(&topts)
	d.Topology = topology.New(topts)
	if d.apply {
		if err := d.ensure(ctx, js); err != nil {
			return err
		}
	}
	// Every process opens the buckets (credentials, rate budget,
	// deliveries) and watches every store's size; its durables are waited
	// for by Serve.
	stores := d.Topology
	stores.Consumers = nil
	if err := d.awaitTopology(ctx, stores); err != nil {
		return err
	}
	// Records are written in the schema version every replica reads and
	// read migrated to this release's (docs/operations.md, "Upgrading").
	if d.Schema, err = bus.OpenSchemaGate(ctx, js); err != nil {
		return err
	}
	js = bus.VersionedJetStream(js, d.Schema)
	d.JS = js
	// socialsync_stream_bytes and socialsync_stream_max_bytes per stream,
	// bucket and object store (docs/storage.md).
	if _, err := d.Topology.WatchStorage(js, d.Telemetry.MeterProvider()); err != nil {
		return err
	}
	// socialsync_dead_letters_stored per location (docs/observability.md).
	if _, err := bus.WatchDeadLetters(js, d.Telemetry.MeterProvider()); err != nil {
		return err
	}
	d.Publisher = bus.NewPublisher(js, bus.PublisherOptions{
		TracerProvider: d.Telemetry.TracerProvider(), Propagator: d.Telemetry.Propagator(), Known: topology.Known, Schema: d.Schema})
	// Every HighLevel call takes a permit from the fleet-wide budget of its
	// location; a handler whose location is paced defers its message. A
	// permit holds until its response; should the process die first, its
	// open permits hold until no request of the client (bounded by its
	// attempt timeout) can still reach HighLevel.
	rcfg, err := cfg.GovernorConfig(d.Log)
	if err != nil {
		return err
	}
	governor, err := ratelimit.Open(ctx, js, rcfg)
	if err != nil {
		if errors.Is(err, ratelimit.ErrConfig) {
			return fmt.Errorf("%w: SOCIALSYNC_RATE_*: %v", ErrConfig, err)
		}
		return err
	}
	d.Governor = governor
	// socialsync_rate_daily_used and _limit per recently called location.
	if _, err := governor.WatchDaily(d.Telemetry.MeterProvider()); err != nil {
		return err
	}
	if d.GHL, err = ghl.New(ghl.Options{BaseURL: cfg.GHLBaseURL, TracerProvider: d.Telemetry.TracerProvider(),
		Propagator: d.Telemetry.Propagator(), Limiter: governor, AttemptTimeout: attemptTimeout,
		MeterProvider: d.Telemetry.MeterProvider()}); err != nil {
		return fmt.Errorf("%w: SOCIALSYNC_GHL_BASE_URL: %v", ErrConfig, err)
	}
	// The store refreshes OAuth tokens through the same client: the governor
	// does not apply to POST /oauth/token.
	copts := []creds.Option{creds.WithLogger(d.Log), creds.WithPublisher(d.Publisher), creds.WithRefreshMargin(cfg.TokenRefreshMargin),
		creds.WithMeterProvider(d.Telemetry.MeterProvider())}
	if cfg.GHLClientID != "" {
		copts = append(copts, creds.WithRefresher(creds.NewRefresher(d.GHL,
			ghl.AppCredentials{ClientID: cfg.GHLClientID, ClientSecret: cfg.GHLClientSecret})))
	}
	if keys == nil {
		if d.Directory, err = creds.OpenDirectory(ctx, js); err != nil {
			return err
		}
	} else {
		if d.Creds, err = creds.Open(ctx, js, keys, copts...); err != nil {
			return err
		}
		d.Directory = d.Creds.Directory
	}
	d.registered = bus.Registered(d.Directory, bus.DefaultRegisteredTTL)
	d.held = newHeld(d.Directory, cfg.PauseRecheck)
	return nil
}

// Client returns the HighLevel client of a location, with its stored token.
func (d *Deps) Client(loc string) *ghl.Client {
	return d.GHL.ForLocation(loc, d.Creds.TokenSource(loc))
}

// Close gives the governor's leased permits back, drains the NATS
// connection and flushes telemetry.
func (d *Deps) Close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if d.Health != nil {
		_ = d.Health.Close()
	}
	if d.Governor != nil && d.Conn != nil {
		// Another process can take them at once, rather than at the
		// leases' end (at most a second).
		gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
		if err := d.Governor.Close(gctx); err != nil {
			d.Log.Warn("return rate leases", "err", err)
		}
		gcancel()
	}
	if d.Conn != nil {
		if err := bus.Drain(ctx, d.Conn); err != nil {
			d.Log.Warn("drain nats", "err", err)
		}
	}
	if d.Telemetry != nil {
		if err := d.Telemetry.Shutdown(ctx); err != nil {
			d.Log.Warn("flush telemetry", "err", err)
		}
	}
}
