package ghlsim

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sandboxDump returns every admin view of a simulator's data as raw JSON.
func (e *env) sandboxDump() []string {
	e.t.Helper()
	out := []string{
		string(e.admin("GET", "/_sandbox/locations", nil).want(e.t, http.StatusOK).body),
		string(e.admin("GET", "/_sandbox/apps", nil).want(e.t, http.StatusOK).body),
	}
	for _, l := range e.sim.Locations() {
		out = append(out, string(e.admin("GET", "/_sandbox/locations/"+l.ID, nil).want(e.t, http.StatusOK).body))
	}
	return out
}

func TestSeedDeterministic(t *testing.T) {
	// The second instance starts on another day: seeded data must not care.
	a, b := newEnv(t, "demo"), newEnvAt(t, "demo", testStart().Add(49*time.Hour))
	if diff := cmp.Diff(a.sandboxDump(), b.sandboxDump()); diff != "" {
		t.Errorf("two demo instances differ (-a +b):\n%s", diff)
	}
	if diff := cmp.Diff(a.sim.Locations(), b.sim.Locations()); diff != "" {
		t.Errorf("Locations() differ (-a +b):\n%s", diff)
	}
	empty := newEnv(t, "empty")
	if cmp.Equal(a.sandboxDump()[1], empty.sandboxDump()[1]) {
		t.Error("the demo and empty seeds have the same app")
	}
}

func TestDemoSeedShape(t *testing.T) {
	e := newEnv(t, "demo")
	locs := e.sim.Locations()
	if len(locs) < 4 || len(locs) > 5 {
		t.Fatalf("demo has %d locations, want 4 or 5", len(locs))
	}
	pit := regexp.MustCompile(`^pit-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	zones := map[string]bool{}
	platformsSeen := map[string]bool{}
	for _, l := range locs {
		zones[l.Timezone] = true
		if !isFirebaseID(l.ID) || !pit.MatchString(l.Token) || l.Name == "" {
			t.Errorf("location %+v", l)
		}
		d := e.detail(l.ID)
		if n := len(d.SocialTags); n < 20 || n > 200 {
			t.Errorf("%s has %d social tags, want 20..200", l.Name, n)
		}
		names := map[string]bool{}
		for _, tg := range d.SocialTags {
			if !isObjectID(tg.ID) || names[tg.Tag] {
				t.Errorf("%s: tag %+v bad id or duplicate name", l.Name, tg)
			}
			names[tg.Tag] = true
		}
		if len(d.Accounts) < 3 {
			t.Errorf("%s has %d accounts", l.Name, len(d.Accounts))
		}
		for _, a := range d.Accounts {
			platformsSeen[a.Platform] = true
			if !isObjectID(a.ProfileID) {
				t.Errorf("profileId %q is not 24 hex", a.ProfileID)
			}
		}
		if len(d.Contacts) < 100 {
			t.Errorf("%s has %d contacts, want hundreds", l.Name, len(d.Contacts))
		}
		for _, c := range d.Contacts {
			if !isFirebaseID(c.ID) {
				t.Errorf("contact id %q", c.ID)
			}
		}
		if len(d.LocationTags) == 0 || len(d.CustomValues) == 0 {
			t.Errorf("%s has no location tags or custom values", l.Name)
		}
	}
	if len(zones) != len(locs) {
		t.Errorf("time zones %v are not distinct", zones)
	}
	for _, p := range []string{"facebook", "instagram", "linkedin", "google", "tiktok"} {
		if !platformsSeen[p] {
			t.Errorf("no %s account in the demo", p)
		}
	}
}
