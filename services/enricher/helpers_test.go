package enricher_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/enricher"
)

// startWorker runs an enricher until the test ends, and checks that Run
// returns nil on shutdown.
func startWorker(t testing.TB, env *fleettest.Env, change ...func(*enricher.Config)) {
	t.Helper()
	cfg := enricher.Config{Config: env.Deps.Config, Concurrency: 4, ContactTagPrefix: "social:"}
	for _, c := range change {
		c(&cfg)
	}
	stores, err := enricher.OpenStores(context.Background(), env.JS)
	if err != nil {
		t.Fatal(err)
	}
	w, err := enricher.New(cfg, enricher.Deps{Publisher: env.Deps.Publisher, Locations: env.Deps.Creds,
		Client:  func(loc string) enricher.Client { return env.Deps.Client(loc) },
		Details: stores.Details, Relations: stores.Relations, Naming: stores.Naming})
	if err != nil {
		t.Fatalf("enricher.New: %v", err)
	}
	env.RunWorker(t, "enricher", w)
}

func subject(t testing.TB, f bus.Family, loc string) string {
	t.Helper()
	s, err := f.Subject(loc)
	if err != nil {
		t.Fatal(fmt.Errorf("subject: %w", err))
	}
	return s
}

// mirrorOn turns the location-tag mirror on.
func mirrorOn(c *enricher.Config) { c.MirrorLocationTags = true }
