package fleet_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A worker started before the operator step has applied the topology does
// not create it: it is alive but not ready, /readyz naming what is
// missing, first the streams and buckets, then, once those exist, its own
// durable; once the topology is applied it becomes ready and handles
// messages, without a restart.
func TestWorkerWaitsForAppliedTopology(t *testing.T) {
	port := freePort(t)
	srv := startNATS(t, port, t.TempDir())
	admin := bustest.Connect(t, srv)
	cfg := testConfig(t, "nats://127.0.0.1:"+strconv.Itoa(port))
	var logs fleettest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	connected := connectAsync(ctx, cfg, &logs, fleet.Options{})

	notReadyNaming := func(what string) func() bool {
		return func() bool {
			code, body := probe(cfg.HTTPAddr, "/readyz")
			return code == http.StatusServiceUnavailable && strings.Contains(body, what)
		}
	}
	fleettest.Eventually(t, 20*time.Second, "/readyz 503 naming the missing stream and bucket",
		func() bool {
			return notReadyNaming("stream SOCIALSYNC_TRIGGERS")() && notReadyNaming("key-value bucket socialsync_tokens")()
		})
	fleettest.Eventually(t, 10*time.Second, "a log line saying it waits for the topology", func() bool {
		return strings.Contains(logs.String(), "waiting for topology")
	})
	names := admin.StreamNames(bustest.Context(t))
	for n := range names.Name() {
		t.Errorf("the worker created stream %s; only the operator step may", n)
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}

	// Everything but the consumers: Connect returns, Serve waits for the
	// durable the worker consumes.
	full := topology.New(topology.Options{})
	stores := full
	stores.Consumers = nil
	if err := stores.Ensure(bustest.Context(t), admin); err != nil {
		t.Fatal(err)
	}
	var r connectResult
	select {
	case r = <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("Connect did not return once the streams and buckets existed")
	}
	if r.err != nil {
		t.Fatalf("Connect: %v", r.err)
	}
	t.Cleanup(func() { r.deps.Close(context.Background()) })
	handled := serveStats(ctx, t, r.deps, nil)
	fleettest.Eventually(t, 20*time.Second, "/readyz 503 naming the missing durable", notReadyNaming("consumer stats on SOCIALSYNC_TRIGGERS"))
	if _, body := probe(cfg.HTTPAddr, "/readyz"); strings.Contains(body, "consumer fetcher") {
		t.Errorf("/readyz names a durable the process does not consume: %s", body)
	}

	if err := full.Ensure(bustest.Context(t), admin); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "/readyz 200 after the topology was applied", func() bool {
		code, _ := probe(cfg.HTTPAddr, "/readyz")
		return code == http.StatusOK
	})
	publishStats(t, r.deps, "after apply")
	waitHandled(t, handled, "after apply")
}
