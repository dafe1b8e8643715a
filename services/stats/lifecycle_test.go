package stats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// A paused location's statistics schedule is removed, so that no run
// fires while it is paused; resuming it schedules it again.
func TestPausedLocationIsNotScheduled(t *testing.T) {
	env := fleettest.Start(t, "demo")
	startWorker(t, env)
	ctx := context.Background()
	stream, err := env.JS.Stream(ctx, topology.StreamSchedules)
	if err != nil {
		t.Fatal(err)
	}
	loc := env.Locations[0].ID
	scheduled := func() bool {
		_, err := stream.GetLastMsgForSubject(ctx, "socialsync.schedule.stats."+loc)
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	fleettest.Eventually(t, 10*time.Second, "the location scheduled", scheduled)
	if _, err := env.Deps.Creds.Pause(ctx, loc, "operator"); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the paused location's schedule removed", func() bool { return !scheduled() })
	if _, err := env.Deps.Creds.Resume(ctx, loc); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the resumed location scheduled again", scheduled)
}
