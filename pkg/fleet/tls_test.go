package fleet_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
)

// startTLSNATS runs a JetStream server that accepts TLS connections only,
// with a certificate the CA of files signed, and verifies the clients'
// certificates when verify is set; it returns its address (host:port).
func startTLSNATS(t *testing.T, files fleettest.TLSFiles, verify bool) string {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: files.ServerCert, KeyFile: files.ServerKey, CaFile: files.CA, Verify: verify})
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(),
		TLS: true, TLSConfig: tc, TLSVerify: verify, TLSTimeout: 5, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server with TLS did not start")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return "127.0.0.1:" + strconv.Itoa(port)
}

// A worker given the CA and its client certificate connects over TLS to a
// server that verifies clients, and handles messages; a connection
// without TLS, or over TLS without the client certificate, is refused, and
// so is a server whose certificate another CA signed.
func TestConnectsOverTLS(t *testing.T) {
	files := fleettest.NewTLSFiles(t)
	addr := startTLSNATS(t, files, true)
	url := "nats://" + addr

	cfg := testConfig(t, url)
	cfg.NATS = fleet.NATSClient{CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if err != nil {
		t.Fatalf("Connect over TLS: %v", err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	if !deps.Conn.TLSRequired() {
		t.Error("the connection does not say TLS is required")
	}
	if _, err := deps.Conn.TLSConnectionState(); err != nil {
		t.Errorf("the worker's connection is not over TLS: %v", err)
	}
	handled := serveStats(ctx, t, deps, nil)
	publishStats(t, deps, "over tls")
	waitHandled(t, handled, "over tls")

	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("a plain connection was accepted")
	}
	noCert := testConfig(t, url)
	noCert.NATS = fleet.NATSClient{CAFile: files.CA}
	_, err = fleet.Connect(ctx, "test", noCert, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), "SOCIALSYNC_NATS_CERT_FILE") {
		t.Errorf("Connect without the client certificate the server verifies: %v, want a configuration error at once naming SOCIALSYNC_NATS_CERT_FILE", err)
	}
	other := fleettest.NewTLSFiles(t)
	wrongCA := testConfig(t, url)
	wrongCA.NATS = fleet.NATSClient{CAFile: other.CA, CertFile: files.ClientCert, KeyFile: files.ClientKey}
	_, err = fleet.Connect(ctx, "test", wrongCA, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), "SOCIALSYNC_NATS_CA_FILE") {
		t.Errorf("Connect to a server whose certificate another CA signed: %v, want a configuration error at once naming SOCIALSYNC_NATS_CA_FILE", err)
	}
}

// A setting of the NATS client that cannot work stops the process at
// start with an error naming the variable.
func TestNATSClientSettingsNameTheirVariable(t *testing.T) {
	files := fleettest.NewTLSFiles(t)
	for _, tt := range []struct {
		name string
		set  fleet.NATSClient
		want string
	}{
		{"CA file missing", fleet.NATSClient{CAFile: filepath.Join(t.TempDir(), "none.pem")}, "SOCIALSYNC_NATS_CA_FILE"},
		{"CA file not PEM", fleet.NATSClient{CAFile: files.ClientKey + "x"}, "SOCIALSYNC_NATS_CA_FILE"},
		{"certificate without key", fleet.NATSClient{CAFile: files.CA, CertFile: files.ClientCert}, "SOCIALSYNC_NATS_CERT_FILE"},
		{"certificate without CA", fleet.NATSClient{CertFile: files.ClientCert, KeyFile: files.ClientKey}, "SOCIALSYNC_NATS_CA_FILE"},
		{"key of another certificate", fleet.NATSClient{CAFile: files.CA, CertFile: files.ClientCert, KeyFile: files.ServerKey}, "SOCIALSYNC_NATS_CERT_FILE"},
		{"inbox prefix with a wildcard", fleet.NATSClient{InboxPrefix: "_INBOX_fetcher.*"}, "SOCIALSYNC_NATS_INBOX_PREFIX"},
		{"inbox prefix ending in a dot", fleet.NATSClient{InboxPrefix: "_INBOX_fetcher."}, "SOCIALSYNC_NATS_INBOX_PREFIX"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t, "nats://fetcher:pw@127.0.0.1:4222")
			cfg.NATS = tt.set
			_, err := fleet.Connect(context.Background(), "t", cfg, fleet.Options{LogOutput: io.Discard})
			if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Connect: %v, want a configuration error naming %s", err, tt.want)
			}
		})
	}
}

// Each NATS user replies on its own prefix, derived from the user of
// SOCIALSYNC_NATS_URL unless SOCIALSYNC_NATS_INBOX_PREFIX says otherwise.
func TestInboxPrefix(t *testing.T) {
	for _, tt := range []struct {
		urls string
		set  string
		want string
	}{
		{"nats://fetcher:pw@nats:4222", "", "_INBOX_fetcher"},
		{"nats://nats-0:4222, nats://gateway:pw@nats-1:4222", "", "_INBOX_gateway"},
		{"nats://s3cret-token@nats:4222", "", "_INBOX"}, // a token names no user
		{"nats://127.0.0.1:4222", "", "_INBOX"},
		{"nats://fetcher:pw@nats:4222", "_INBOX_custom.fetcher", "_INBOX_custom.fetcher"},
	} {
		if got := (fleet.NATSClient{InboxPrefix: tt.set}).Prefix(tt.urls); got != tt.want {
			t.Errorf("Prefix(%q) with %q: %q, want %q", tt.urls, tt.set, got, tt.want)
		}
	}
}
