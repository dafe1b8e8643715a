package fetcher_test

import (
	"context"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/fetcher"
)

// The poller asks HighLevel nothing for a paused location; once resumed,
// its posts are polled.
func TestPollerSkipsPausedLocation(t *testing.T) {
	env := fleettest.Start(t, "empty")
	ctx := context.Background()
	paused, pausedTags := env.NewTaggedLocation(t, "held")
	running, runningTags := env.NewTaggedLocation(t, "live")
	env.Admin(t, "POST", "/_sandbox/locations/"+paused+"/posts", map[string]any{"tags": []string{pausedTags["held"]}}, nil)
	env.Admin(t, "POST", "/_sandbox/locations/"+running+"/posts", map[string]any{"tags": []string{runningTags["live"]}}, nil)
	if _, err := env.Deps.Creds.Pause(ctx, paused, "operator"); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	startWorker(t, env, func(c *fetcher.Config) { c.PollInterval = time.Second })

	pausedSubject, runningSubject := subject(t, topology.PostTriggers, paused), subject(t, topology.PostTriggers, running)
	// The running location polled: the paused one was passed over.
	fleettest.Eventually(t, 10*time.Second, "the running location polled", func() bool {
		return len(bustest.Messages(t, env.JS, topology.StreamTriggers, runningSubject)) == 1
	})
	if n := len(bustest.Messages(t, env.JS, topology.StreamTriggers, pausedSubject)); n != 0 {
		t.Errorf("%d post triggers polled for the paused location", n)
	}
	for _, r := range env.Requests(t, paused) {
		if r.At.After(started) {
			t.Errorf("HighLevel asked for the paused location: %s %s", r.Method, r.Path)
		}
	}
	if _, err := env.Deps.Creds.Resume(ctx, paused); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 10*time.Second, "the resumed location polled", func() bool {
		return len(bustest.Messages(t, env.JS, topology.StreamTriggers, pausedSubject)) == 1
	})
}
