package enricher_test

import (
	"fmt"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/enricher"
)

// startWorker runs an enricher until the test ends, and checks that Run
// returns nil on shutdown.
func startWorker(t testing.TB, env *fleettest.Env) {
	t.Helper()
	cfg := enricher.Config{Config: env.Deps.Config, Concurrency: 4, ContactTagPrefix: "social:"}
	w, err := enricher.New(cfg, env.Deps)
	if err != nil {
		t.Fatalf("enricher.New: %v", err)
	}
	fleettest.Run(t, w.Run)
}

func subject(t testing.TB, f bus.Family, loc string) string {
	t.Helper()
	s, err := f.Subject(loc)
	if err != nil {
		t.Fatal(fmt.Errorf("subject: %w", err))
	}
	return s
}
