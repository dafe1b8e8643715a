package enricher_test

import (
	"fmt"
	"testing"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/services/enricher"
)

// newLocation creates a simulator location with the given social tags,
// registers it, and returns its id and its tags' ids by name.
func newLocation(t testing.TB, env *fleettest.Env, tags ...string) (string, map[string]string) {
	t.Helper()
	var created struct{ ID, Token string }
	env.Admin(t, "POST", "/_sandbox/locations", map[string]any{"socialTags": tags}, &created)
	env.AddLocation(t, ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: "UTC"})
	var detail struct {
		SocialTags []struct {
			ID  string `json:"_id"`
			Tag string `json:"tag"`
		} `json:"socialTags"`
	}
	env.Admin(t, "GET", "/_sandbox/locations/"+created.ID, nil, &detail)
	ids := make(map[string]string)
	for _, tag := range detail.SocialTags {
		ids[tag.Tag] = tag.ID
	}
	return created.ID, ids
}

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
