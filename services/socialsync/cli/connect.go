package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/topology"
)

// defaultNATSURL is SOCIALSYNC_NATS_URL when set, else the local server
// `socialsync run` starts.
func defaultNATSURL() string {
	if u := os.Getenv("SOCIALSYNC_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// natsFlag adds --nats to fs.
func natsFlag(fs *flag.FlagSet) *string {
	return fs.String("nats", defaultNATSURL(), "NATS server URL (SOCIALSYNC_NATS_URL)")
}

// conn is a connection for an operator command.
type conn struct {
	nc *nats.Conn
	// js reads and writes records in the fleet's schema version (see
	// bus.VersionedJetStream) once dial has opened the gate.
	js     jetstream.JetStream
	schema *bus.SchemaGate
	// raw is js without versioning: records as they are stored.
	raw jetstream.JetStream
}

// publisher returns a Publisher on c marking messages with the fleet's
// schema version.
func (c *conn) publisher() *bus.Publisher {
	return bus.NewPublisher(c.js, bus.PublisherOptions{Known: topology.Known, Schema: c.schema})
}

// dial connects for an operator command and checks that the topology's
// streams and buckets exist: it does not create them, which is `socialsync
// topology apply`'s.
func dial(ctx context.Context, url string, opts ...nats.Option) (*conn, error) {
	c, err := connectNATS(url, opts...)
	if err != nil {
		return nil, err
	}
	topo, err := operatorTopology()
	if err != nil {
		c.close()
		return nil, err
	}
	topo.Consumers = nil
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := topo.Verify(ctx, c.js); err != nil {
		c.close()
		return nil, err
	}
	if c.schema, err = bus.OpenSchemaGate(ctx, c.js); err != nil {
		c.close()
		return nil, err
	}
	c.raw = c.js
	c.js = bus.VersionedJetStream(c.js, c.schema)
	return c, nil
}

// connectNATS connects to url with the reply prefix and TLS of the
// SOCIALSYNC_NATS_* variables (fleet.NATSClient), and opts.
func connectNATS(url string, extra ...nats.Option) (*conn, error) {
	var client fleet.NATSClient
	if err := envconfig.Process(fleet.NATSPrefix, &client); err != nil {
		return nil, err
	}
	opts, err := client.Options(url)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.Name("socialsync-cli"), nats.Timeout(5*time.Second))
	opts = append(opts, extra...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(url), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &conn{nc: nc, js: js}, nil
}

// redactURL hides the passwords of a comma-separated list of NATS URLs
// (nats://operator:<password>@host:4222), for error strings.
func redactURL(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := neturl.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = "<unparsable URL>"
		}
	}
	return strings.Join(parts, ",")
}

// operatorTopology is the topology `socialsync topology apply` declares,
// with SOCIALSYNC_STREAM_REPLICAS replicas and the SOCIALSYNC_LIMIT_*
// storage limits like the workers' configuration: Apply updates what
// differs, so an apply that declared one replica would scale a cluster's
// three-replica streams down, and one without the limits would reset them
// to the defaults.
func operatorTopology() (bus.Topology, error) {
	replicas := 1
	if v := os.Getenv("SOCIALSYNC_STREAM_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5 {
			return bus.Topology{}, fmt.Errorf("SOCIALSYNC_STREAM_REPLICAS: want 1 to 5, got %q", v)
		}
		replicas = n
	}
	var limits fleet.StorageLimits
	if err := envconfig.Process(fleet.LimitsPrefix, &limits); err != nil {
		return bus.Topology{}, err
	}
	if err := limits.Validate(); err != nil {
		return bus.Topology{}, err
	}
	var retention fleet.Retention
	if err := envconfig.Process(fleet.RetentionPrefix, &retention); err != nil {
		return bus.Topology{}, err
	}
	if err := retention.Validate(0); err != nil {
		return bus.Topology{}, err
	}
	opts := limits.Topology(replicas)
	retention.Apply(&opts)
	return topology.New(opts), nil
}

func (c *conn) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = bus.Drain(ctx, c.nc)
}

// devKeyFile is where `socialsync run` keeps the token key it generated.
const devKeyFile = ".socialsync/token.key"

// keyring reads SOCIALSYNC_TOKEN_KEY, or the key `socialsync run` wrote to
// .socialsync/token.key when the variable is unset.
func keyring() (*creds.Keyring, error) {
	keys, err := tokenKey()
	if err != nil {
		return nil, err
	}
	k, err := creds.ParseKeyring(keys)
	if err != nil {
		return nil, fmt.Errorf("SOCIALSYNC_TOKEN_KEY: %w", err)
	}
	return k, nil
}

// tokenKey returns SOCIALSYNC_TOKEN_KEY, or the development key of
// `socialsync run`.
func tokenKey() (string, error) {
	if keys := os.Getenv("SOCIALSYNC_TOKEN_KEY"); keys != "" {
		return keys, nil
	}
	b, err := os.ReadFile(devKeyFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("SOCIALSYNC_TOKEN_KEY is not set (base64 of 32 random bytes, e.g. openssl rand -base64 32), and no " + devKeyFile + " from `socialsync run`")
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", devKeyFile, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openStore reads the token key, connects to NATS at url and opens the
// credential store. Close the connection when done.
func openStore(ctx context.Context, url string, opts ...creds.Option) (*conn, *creds.Store, error) {
	keys, err := keyring()
	if err != nil {
		return nil, nil, err
	}
	c, err := dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	store, err := creds.Open(ctx, c.js, keys, opts...)
	if err != nil {
		c.close()
		return nil, nil, err
	}
	return c, store, nil
}

// refusals returns ctx ended, with the server's refusal as its cause, at
// the first permissions violation of the connection made with the option
// it returns: a JetStream request the user may not make gets no answer,
// so a command would otherwise wait out its whole timeout. The caller
// reports the cause with refused.
func refusals(ctx context.Context) (context.Context, context.CancelFunc, nats.Option) {
	ctx, cancel := context.WithCancelCause(ctx)
	opt := nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) {
			cancel(fmt.Errorf("the NATS user of --nats may not do this (deploy/nats/accounts.conf): %w", err))
		}
	})
	return ctx, func() { cancel(nil) }, opt
}

// refused returns the refusal that ended ctx (see refusals), else err.
func refused(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, nats.ErrPermissionViolation) {
		return cause
	}
	return err
}
