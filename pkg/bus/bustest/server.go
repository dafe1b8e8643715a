package bustest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
)

// StartServer runs an embedded JetStream server on a random port, with
// its store in the test's temp directory, until the test's cleanup.
func StartServer(tb testing.TB) *server.Server {
	tb.Helper()
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: tb.TempDir(), Port: -1})
	if err != nil {
		tb.Fatalf("start embedded NATS: %v", err)
	}
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect opens a connection to s that does not reconnect (a test that
// stops the server sees it at once), closed at cleanup.
func Connect(tb testing.TB, s *server.Server) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// Setup starts a server, connects with Connect and ensures the default
// topology, which it returns.
func Setup(tb testing.TB) (jetstream.JetStream, bus.Topology) {
	tb.Helper()
	js := Connect(tb, StartServer(tb))
	topo := topology.New(topology.Options{})
	if err := topo.Ensure(Context(tb), js); err != nil {
		tb.Fatal(err)
	}
	return js, topo
}

// Context returns a context that ends after 30 seconds or with the test.
func Context(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// WaitFor polls cond every 10ms until it holds, failing the test after
// limit.
func WaitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// StreamMsgs returns the number of messages stored in stream.
func StreamMsgs(tb testing.TB, js jetstream.JetStream, stream string) uint64 {
	tb.Helper()
	_, info := streamInfo(tb, js, stream)
	return info.State.Msgs
}

// streamInfo returns stream and its info.
func streamInfo(tb testing.TB, js jetstream.JetStream, stream string) (jetstream.Stream, *jetstream.StreamInfo) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return s, info
}
