// Package bustest starts a real JetStream server for tests: in-process,
// on a random loopback port, with its store in the test's temp directory
// and socialsync's topology already declared.
package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/topology"
)

// Env is a running server with a connection and the topology in place.
type Env struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
}

// URL is the server's client URL, for processes and second connections.
func (e *Env) URL() string { return e.Server.ClientURL() }

// Start starts the server, connects, and runs topology.Ensure with opts. The
// server, connection and files go away at the test's cleanup.
func Start(tb testing.TB, opts topology.Options) *Env {
	tb.Helper()
	srv := StartServer(tb)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect to embedded NATS: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := topology.New(opts).Ensure(ctx, js); err != nil {
		tb.Fatalf("ensure topology: %v", err)
	}
	return &Env{Server: srv, Conn: nc, JS: js}
}
