package stats_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/stats"
)

// quietCron is the daily run of the tests' workers: 06:00 in each
// location's time zone, on a day half a year from the start of the tests,
// so that no run fires during a test. Every day's 06:00 ("0 0 6 * * *")
// comes in one demo time zone or another at five times of the UTC day, and
// a test running across one took an extra snapshot. Set once, so that
// every test compares with the schedule its worker was given.
var quietCron = func() string {
	d := time.Now().UTC().AddDate(0, 6, 0)
	return fmt.Sprintf("0 0 6 %d %d *", min(d.Day(), 28), int(d.Month()))
}()

// startWorker runs the worker until the test ends or the returned stop is
// called, and checks that Run returns nil on cancel.
func startWorker(t *testing.T, env *fleettest.Env, change ...func(*stats.Config)) (stop func()) {
	t.Helper()
	return startWorkerWith(t, env, nil, change...)
}

// startWorkerWith is startWorker with hook applied to the worker before
// it runs (to pin its clock).
func startWorkerWith(t *testing.T, env *fleettest.Env, hook func(*stats.Worker), change ...func(*stats.Config)) (stop func()) {
	t.Helper()
	cfg := stats.Config{Config: env.Deps.Config, Concurrency: 2, Cron: quietCron, ReportDays: 28, CustomValues: true}
	for _, c := range change {
		c(&cfg)
	}
	w, err := stats.New(cfg, statsDeps(t, env))
	if err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		hook(w)
	}
	return env.RunWorker(t, "stats", w)
}

// statsDeps are the worker's dependencies on env's fleet.
func statsDeps(t testing.TB, env *fleettest.Env) stats.Deps {
	t.Helper()
	stores, err := stats.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	return stats.Deps{Publisher: env.Deps.Publisher, Locations: env.Deps.Creds,
		Client:  func(loc string) stats.Client { return env.Deps.Client(loc) },
		History: stats.KVHistory{KV: stores.History}, FollowUps: stats.KVFollowUps{Stores: stores}, Stores: stores, Log: env.Deps.Log}
}

// count returns how many logged requests have method and a path starting
// with prefix.
func count(reqs []fleettest.Request, method, prefix string) int {
	n := 0
	for _, r := range reqs {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// statisticsCalls counts loc's statistics calls.
func statisticsCalls(t *testing.T, env *fleettest.Env, loc string) int {
	return count(env.Requests(t, loc), "POST", "/social-media-posting/statistics")
}

// waitHandled waits until the stats durable has acknowledged every
// trigger up to stream sequence seq.
func waitHandled(t *testing.T, env *fleettest.Env, seq uint64) {
	t.Helper()
	fleettest.Eventually(t, 20*time.Second, "trigger handled", func() bool {
		c, err := env.JS.Consumer(context.Background(), topology.StreamTriggers, topology.DurableStats)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		return err == nil && info.AckFloor.Stream >= seq
	})
}
