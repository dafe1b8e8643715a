package stats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/stats"
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

// The statistics history and reports of a removed location are kept for
// SOCIALSYNC_STATS_REMOVED_GRACE, then deleted by the worker; a location
// connected again keeps its own.
func TestRemovedLocationStatisticsAfterGrace(t *testing.T) {
	env := fleettest.Start(t, "demo")
	ctx := context.Background()
	stores, err := stats.OpenStores(ctx, env.JS)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	back := env.Locations[0].ID
	for loc, removed := range map[string]time.Time{"Gone1": now.AddDate(0, 0, -31), "Recent1": now.AddDate(0, 0, -1), back: now.AddDate(0, 0, -40)} {
		if _, err := stores.History.Put(ctx, report.HistoryKey(loc, "2026-01-01"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := stores.Reports.PutBytes(ctx, report.LatestName(loc, report.JSON), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := stats.MarkRemoved(ctx, stores.History, loc, removed); err != nil {
			t.Fatal(err)
		}
	}
	startWorkerWith(t, env, func(w *stats.Worker) { w.SetClock(func() time.Time { return now }) },
		func(c *stats.Config) { c.RemovedGrace = 30 * 24 * time.Hour })

	has := func(loc string) (history, reports, mark bool) {
		_, err := stores.History.Get(ctx, report.HistoryKey(loc, "2026-01-01"))
		history = err == nil
		_, err = stores.Reports.GetInfo(ctx, report.LatestName(loc, report.JSON))
		reports = err == nil
		_, err = stores.History.Get(ctx, report.RemovedKey(loc))
		mark = err == nil
		return
	}
	fleettest.Eventually(t, 20*time.Second, "the statistics of the location removed 31 days ago deleted", func() bool {
		h, r, m := has("Gone1")
		return !h && !r && !m
	})
	fleettest.Eventually(t, 20*time.Second, "the mark of the location connected again dropped", func() bool {
		_, _, m := has(back)
		return !m
	})
	if h, r, _ := has(back); !h || !r {
		t.Errorf("location connected again: history %v, reports %v; want both kept", h, r)
	}
	if h, r, m := has("Recent1"); !h || !r || !m {
		t.Errorf("location removed a day ago: history %v, reports %v, mark %v; want all kept", h, r, m)
	}
}
