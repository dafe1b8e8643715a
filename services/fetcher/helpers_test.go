package fetcher_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/fetcher"
)

// startWorker runs a fetcher until the test ends, and checks that Run
// returns nil on shutdown.
func startWorker(t testing.TB, env *fleettest.Env, change ...func(*fetcher.Config)) {
	t.Helper()
	cfg := fetcher.Config{
		Config:          env.Deps.Config,
		Concurrency:     4,
		RefreshInterval: time.Second,
		PollWindow:      720 * time.Hour,
	}
	for _, c := range change {
		c(&cfg)
	}
	stores, err := fetcher.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := fetcher.New(cfg, fetcher.Deps{Publisher: env.Deps.Publisher, Locations: env.Deps.Creds,
		Client:     func(loc string) fetcher.Client { return env.Deps.Client(loc) },
		Catalogues: stores.Catalogues, Cursors: stores.Cursors, Refreshes: stores.Refreshes, Log: env.Deps.Log})
	if err != nil {
		t.Fatalf("fetcher.New: %v", err)
	}
	env.RunWorker(t, "fetcher", w)
}

func subject(t testing.TB, f bus.Family, loc string) string {
	t.Helper()
	s, err := f.Subject(loc)
	if err != nil {
		t.Fatal(fmt.Errorf("subject: %w", err))
	}
	return s
}

// tagListCalls counts loc's catalogue fetches.
func tagListCalls(t testing.TB, env *fleettest.Env, loc string) int {
	t.Helper()
	return env.Calls(t, loc, "GET", "/social-media-posting/"+loc+"/tags")
}

// storedCatalogue reads the catalogue the fetcher stored for loc.
func storedCatalogue(t testing.TB, js jetstream.JetStream, loc string) (string, bool) {
	t.Helper()
	v, _, ok := bustest.Entry(t, js, topology.BucketTags, loc)
	return string(v), ok
}
