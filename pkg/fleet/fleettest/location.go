package fleettest

import (
	"net/http"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghlsim"
)

// Location reads location id from the admin API of the simulator at
// simURL (GET /_sandbox/locations/{id}); it fails the test when the
// simulator has no such location.
func Location(tb testing.TB, simURL, id string) ghlsim.LocationView {
	tb.Helper()
	var l ghlsim.LocationView
	Admin(tb, simURL, http.MethodGet, "/_sandbox/locations/"+id, nil, &l)
	return l
}

// Location reads location id from the Env's simulator, as Location does.
func (e *Env) Location(tb testing.TB, id string) ghlsim.LocationView {
	tb.Helper()
	return Location(tb, e.SimURL, id)
}
