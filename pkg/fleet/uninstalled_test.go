package fleet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// Triggers stored for a location before it was uninstalled in HighLevel
// are acknowledged without running the handler, counted as dropped, and
// leave no dead letter.
func TestUninstalledLocationsTriggersAreDropped(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	loc := env.Locations[0].ID
	if _, err := env.Deps.Creds.Uninstall(ctx, "", loc); err != nil {
		t.Fatal(err)
	}
	var handled atomic.Int64
	c, err := env.Deps.Consumer(topology.StreamTriggers, topology.DurableStats, func(context.Context, jetstream.Msg) error {
		handled.Add(1)
		return nil
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, c.Run)
	subject, _ := topology.StatsTriggers.Subject(loc)
	for i := range 3 {
		if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.StatsRequested{LocationId: loc, EventId: "e" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.Eventually(t, 20*time.Second, "the triggers acknowledged", func() bool {
		cons, err := env.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableStats)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0
	})
	if n := handled.Load(); n != 0 {
		t.Errorf("the handler ran %d times for an uninstalled location", n)
	}
	dlq, err := env.JS.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dlq.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("dead letters: %+v, %v; want none", info.State, err)
	}
	rec := httptest.NewRecorder()
	env.Deps.Telemetry.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var line string
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(l, "socialsync_messages_handled_total{") && strings.Contains(l, `outcome="dropped"`) {
			line = l
		}
	}
	if !strings.HasSuffix(line, " 3") {
		t.Fatalf("dropped count: %q, want 3", line)
	}
}
