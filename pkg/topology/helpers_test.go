package topology_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/topology"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server waits up to 30s for the answer to a stream-source
		// consumer request in a goroutine that its Shutdown does not stop.
		// It is the server's, and the tests' servers are short-lived.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
	)
}

// startServer runs an embedded JetStream server for the test.
func startServer(t testing.TB) *server.Server {
	t.Helper()
	s, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// connect opens a connection to s, closed (drained) at cleanup.
func connect(t testing.TB, s *server.Server) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// setup starts a server, connects and ensures the default topology.
func setup(t testing.TB) (jetstream.JetStream, bus.Topology) {
	t.Helper()
	js := connect(t, startServer(t))
	topo := topology.New(topology.Options{})
	if err := topo.Ensure(testContext(t), js); err != nil {
		t.Fatal(err)
	}
	return js, topo
}

// testContext is cancelled when the test ends.
func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// spec returns the topology's durable, with changes applied.
// running is a Consumer.Run in its own goroutine.
// stop cancels Run and waits for it, failing the test when it takes longer
// than limit.
// run starts a Consumer; it is stopped at cleanup if the test did not.
// outcomes collects the Consumer's settled deliveries.
// waitFor polls cond every 10ms until it holds, failing the test after
// limit.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamMsgs returns the number of messages stored in stream.
func streamMsgs(t testing.TB, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// storedMsgs returns every message stored in stream.
func storedMsgs(t testing.TB, js jetstream.JetStream, stream string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// deadLetters waits until SOCIALSYNC_DLQ holds n messages and returns them.
// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
// newLogger returns a debug-level JSON logger writing to a buffer.
// publishRaw publishes data with headers as `nats pub` would.
