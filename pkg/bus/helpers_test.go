package bus_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server waits up to 30s for the answer to a stream-source
		// consumer request in a goroutine that its Shutdown does not stop.
		// It is the server's, and the tests' servers are short-lived.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*stream).trySetupSourceConsumer.func3"),
	)
}

// spec returns the topology's durable, with changes applied.
func spec(t testing.TB, topo bus.Topology, stream, durable string, change ...func(*bus.ConsumerSpec)) bus.ConsumerSpec {
	t.Helper()
	s, ok := topo.Consumer(stream, durable)
	if !ok {
		t.Fatalf("no consumer %s on %s", durable, stream)
	}
	for _, c := range change {
		c(&s)
	}
	return s
}

// running is a Consumer.Run in its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, once done is closed
}

// stop cancels Run and waits for it, failing the test when it takes longer
// than limit.
func (r *running) stop(t testing.TB, limit time.Duration) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(limit):
		t.Fatalf("Run did not return within %s of shutdown", limit)
		return nil
	}
}

// run starts a Consumer; it is stopped at cleanup if the test did not.
func run(t testing.TB, js jetstream.JetStream, s bus.ConsumerSpec, h bus.Handler, opts bus.ConsumerOptions) *running {
	t.Helper()
	c, err := bus.NewConsumer(js, s, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			t.Error("consumer did not stop at cleanup")
		}
	})
	return r
}

// outcomes collects the Consumer's settled deliveries.
type outcomes struct {
	mu  sync.Mutex
	all []bus.Outcome
}

func (o *outcomes) add(out bus.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.all = append(o.all, out)
}

func (o *outcomes) list() []bus.Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]bus.Outcome(nil), o.all...)
}

// deadLetters waits until SOCIALSYNC_DLQ holds n messages and returns them.
func deadLetters(t testing.TB, js jetstream.JetStream, n int) []bus.DeadLetter {
	t.Helper()
	bustest.WaitFor(t, 10*time.Second, "dead letters", func() bool { return bustest.StreamMsgs(t, js, bus.StreamDLQ) >= uint64(n) })
	var dls []bus.DeadLetter
	for _, m := range bustest.Messages(t, js, bus.StreamDLQ, "") {
		dl, err := bus.ParseDeadLetter(m.Subject, m.Header, m.Data)
		if err != nil {
			t.Fatal(err)
		}
		dls = append(dls, dl)
	}
	if len(dls) != n {
		t.Fatalf("got %d dead letters, want %d: %+v", len(dls), n, dls)
	}
	return dls
}

// syncBuffer is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogger returns a debug-level JSON logger writing to a buffer.
func newLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// publishRaw publishes data with headers as `nats pub` would.
func publishRaw(t testing.TB, js jetstream.JetStream, subject string, data []byte, header ...string) *jetstream.PubAck {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = data
	for i := 0; i+1 < len(header); i += 2 {
		msg.Header.Set(header[i], header[i+1])
	}
	ack, err := js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
	return ack
}
