package fleet_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// testLocation is a location id of HighLevel's shape; the handlers of
// these tests never call HighLevel.
const testLocation = "Ve9EPM428h8vShlRW1KT"

// A worker started while NATS is down waits for it: alive, not ready,
// saying in its log what it waits for (without the URL's password); once
// the server is up it becomes ready and handles messages.
func TestWaitsForNATSAtStart(t *testing.T) {
	natsPort := freePort(t)
	cfg := testConfig(t, "nats://worker:s3cret-pass@127.0.0.1:"+strconv.Itoa(natsPort))
	var logs fleettest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := connectAsync(ctx, cfg, &logs, fleet.Options{ApplyTopology: true})

	fleettest.Eventually(t, 10*time.Second, "/readyz 503 naming NATS", func() bool {
		code, body := probe(cfg.HTTPAddr, "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "waiting for NATS at nats://redacted@127.0.0.1:"+strconv.Itoa(natsPort))
	})
	if code, _ := probe(cfg.HTTPAddr, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz while waiting: %d, want 200", code)
	}
	fleettest.Eventually(t, 10*time.Second, "a log line saying what it waits for", func() bool {
		return strings.Contains(logs.String(), "waiting for nats")
	})
	select {
	case r := <-connected:
		t.Fatalf("Connect returned while NATS was down: %v", r.err)
	default:
	}
	if strings.Contains(logs.String(), "s3cret-pass") {
		t.Errorf("the log shows the URL's password:\n%s", logs.String())
	}

	startNATS(t, natsPort, t.TempDir())
	var r connectResult
	select {
	case r = <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("Connect did not return after NATS started")
	}
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	t.Cleanup(func() { r.deps.Close(context.Background()) })
	handled := serveStats(ctx, t, r.deps, nil)
	fleettest.Eventually(t, 10*time.Second, "/readyz 200", func() bool {
		code, _ := probe(cfg.HTTPAddr, "/readyz")
		return code == http.StatusOK
	})
	publishStats(t, r.deps, "after start")
	waitHandled(t, handled, "after start")
}

// A running consumer survives a restart of NATS (same port, same store):
// not ready while the server is away; the message whose handler finished
// during the outage is settled, not lost; a message published after the
// restart is handled.
func TestConsumerResumesAfterNATSRestart(t *testing.T) {
	natsPort, dir := freePort(t), t.TempDir()
	srv := startNATS(t, natsPort, dir)
	cfg := testConfig(t, "nats://127.0.0.1:"+strconv.Itoa(natsPort))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deps, err := fleet.Connect(ctx, "test", cfg, fleet.Options{LogOutput: io.Discard, ApplyTopology: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deps.Close(context.Background()) })
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	handled := serveStats(ctx, t, deps, func(by string) {
		if by == "in flight" {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release
		}
	})
	publishStats(t, deps, "before")
	waitHandled(t, handled, "before")
	publishStats(t, deps, "in flight")
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight handler did not start")
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	fleettest.Eventually(t, 10*time.Second, "/readyz 503 while NATS is away", func() bool {
		code, _ := probe(cfg.HTTPAddr, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	close(release) // the handler finishes; its ack cannot reach the server yet
	waitHandled(t, handled, "in flight")
	startNATS(t, natsPort, dir)
	fleettest.Eventually(t, 30*time.Second, "/readyz 200 after the restart", func() bool {
		code, _ := probe(cfg.HTTPAddr, "/readyz")
		return code == http.StatusOK
	})
	publishStats(t, deps, "after")
	waitHandled(t, handled, "after")
	// Acked on reconnect, or redelivered and handled again after the ack
	// wait: either way nothing stays pending.
	fleettest.Eventually(t, 2*topology.DefaultAckWait, "nothing pending on the stats consumer", func() bool {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		cons, err := deps.JS.Consumer(ictx, topology.StreamTriggers, topology.DurableStats)
		if err != nil {
			return false
		}
		info, err := cons.Info(ictx)
		return err == nil && info.NumAckPending == 0 && info.NumPending == 0
	})
}

func testConfig(t *testing.T, natsURL string) fleet.Config {
	t.Helper()
	cfg := fleet.DefaultConfig()
	cfg.NATSURL = natsURL
	cfg.HTTPAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.TokenKey = creds.NewKey()
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// serveStats serves deps with a consumer of statistics triggers that runs
// hold (when not nil) with each trigger's requester, then sends the
// requester to the returned channel.
func serveStats(ctx context.Context, t *testing.T, deps *fleet.Deps, hold func(by string)) <-chan string {
	t.Helper()
	handled := make(chan string, 16)
	// Workers dead-letter a location's messages until it is registered.
	if err := deps.Creds.AddPIT(ctx, creds.Location{ID: testLocation, Name: "test"}, "pit-00000000-0000-0000-0000-000000000000"); err != nil {
		t.Fatalf("register %s: %v", testLocation, err)
	}
	c, err := deps.Consumer(topology.StreamTriggers, topology.DurableStats, func(ctx context.Context, msg jetstream.Msg) error {
		var req socialsyncv1.StatsRequested
		if _, err := bus.Decode(msg, &req); err != nil {
			return err
		}
		if hold != nil {
			hold(req.GetRequestedBy())
		}
		handled <- req.GetRequestedBy()
		return nil
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- deps.Serve(ctx, fleet.Component{Name: "stats", Run: c.Run}) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return handled
}

// publishStats publishes a statistics trigger requested by by, trying
// again while the connection is still coming back.
func publishStats(t *testing.T, deps *fleet.Deps, by string) {
	t.Helper()
	subject, err := topology.StatsTriggers.Subject(testLocation)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 20*time.Second, "trigger "+by+" published", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: testLocation, RequestedBy: by})
		return err == nil
	})
}

func waitHandled(t *testing.T, handled <-chan string, by string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-handled:
			if got == by {
				return
			}
		case <-deadline:
			t.Fatalf("trigger %q not handled", by)
		}
	}
}

func startNATS(t *testing.T, port int, dir string) *server.Server {
	t.Helper()
	srv, err := bus.StartEmbedded(bus.EmbeddedOptions{StoreDir: dir, Port: port})
	if err != nil {
		t.Fatalf("start NATS on port %d: %v", port, err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func probe(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// connectResult is what fleet.Connect returned.
type connectResult struct {
	deps *fleet.Deps
	err  error
}

// connectAsync runs fleet.Connect in the background and hands over its
// result when it returns.
func connectAsync(ctx context.Context, cfg fleet.Config, logs *fleettest.Buffer, opts fleet.Options) <-chan connectResult {
	connected := make(chan connectResult, 1)
	opts.LogOutput = logs
	go func() {
		d, err := fleet.Connect(ctx, "test", cfg, opts)
		connected <- connectResult{d, err}
	}()
	return connected
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type idleWorker struct{}

func (idleWorker) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// SIGTERM while a worker waits for NATS is an orderly stop, not a failure.
func TestRunWorkerStopsCleanlyWhileWaitingForNATS(t *testing.T) {
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	t.Setenv("SOCIALSYNC_NATS_URL", "nats://127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_HTTP_ADDR", httpAddr)
	t.Setenv("SOCIALSYNC_TOKEN_KEY", creds.NewKey())
	t.Setenv("SOCIALSYNC_LOG_LEVEL", "error")
	var cfg fleet.Config
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- fleet.RunWorker(ctx, "idle", "waits", &cfg, &cfg, nil, io.Discard, fleet.Options{},
			func(fleet.Config, *fleet.Deps) (idleWorker, error) { return idleWorker{}, nil })
	}()
	fleettest.Eventually(t, 10*time.Second, "/readyz 503", func() bool {
		select {
		case err := <-done:
			t.Fatalf("RunWorker returned while NATS was down: %v", err)
		default:
		}
		code, _ := probe(httpAddr, "/readyz")
		return code == http.StatusServiceUnavailable
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunWorker after SIGTERM while waiting: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWorker did not stop")
	}
	if code, _ := probe(httpAddr, "/healthz"); code != 0 {
		t.Errorf("/healthz answered %d after RunWorker returned; want the port closed", code)
	}
}

// A worker whose NATS answers without JetStream yet (a server restarting,
// a cluster without a leader) waits for JetStream rather than exiting.
func TestWaitsForJetStream(t *testing.T) {
	port := freePort(t)
	plain, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	plain.Start()
	if !plain.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS without JetStream did not start")
	}
	t.Cleanup(plain.Shutdown)
	cfg := testConfig(t, "nats://127.0.0.1:"+strconv.Itoa(port))
	var logs fleettest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := connectAsync(ctx, cfg, &logs, fleet.Options{ApplyTopology: true})
	fleettest.Eventually(t, 20*time.Second, "a log line saying it waits for JetStream", func() bool {
		select {
		case r := <-connected:
			t.Fatalf("Connect returned while JetStream was off: %v", r.err)
		default:
		}
		return strings.Contains(logs.String(), "waiting for jetstream")
	})
	if code, _ := probe(cfg.HTTPAddr, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while waiting for JetStream: %d, want 503", code)
	}

	plain.Shutdown()
	plain.WaitForShutdown()
	startNATS(t, port, t.TempDir())
	var r connectResult
	select {
	case r = <-connected:
	case <-time.After(40 * time.Second):
		t.Fatal("Connect did not return after JetStream started")
	}
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	t.Cleanup(func() { r.deps.Close(context.Background()) })
	handled := serveStats(ctx, t, r.deps, nil)
	publishStats(t, r.deps, "with jetstream")
	waitHandled(t, handled, "with jetstream")
}
