package gateway_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/services/gateway"
)

// The test console: without a worker holding the key, 503 no_worker;
// with one (the doctor.Server the stats worker runs), the report of the
// simulator's answers, with no request header in the raw answers, for an
// admin key and for a trigger key alike.
func TestConsoleDoctor(t *testing.T) {
	noAdmin := scopeKeys["admin"]
	w := startEnv(t, fleettest.Start(t, "demo"), func(c *gateway.Config) {
		c.APIKeyHashes = gateway.HashAPIKey(testKey) + "\n" + gateway.HashAPIKey(noAdmin) + ":read+trigger\n" +
			gateway.HashAPIKey(scopeKeys["trigger"]) + ":read"
	})
	k := loadContract(t)
	loc := w.Locations[0].ID
	if a := k.do(t, w, call{method: "POST", path: "/v1/locations/" + loc + "/doctor", status: 503}); a.errorCode(t) != "no_worker" {
		t.Errorf("no worker: %s", a.body)
	}
	w.checkConsole(t, k, loc, testKey, noAdmin)
	k.do(t, w, call{method: "POST", path: "/v1/locations/nope0/doctor", status: 404})
	if a := w.do(t, "POST", "/v1/locations/"+loc+"/doctor", bearer(scopeKeys["trigger"]), nil); a.status != 403 {
		t.Errorf("a key without the trigger scope: %d %s", a.status, a.body)
	}
}

// checkConsole serves the console's worker end and runs the doctor for
// loc with each key.
func (w *world) checkConsole(t *testing.T, k *contract, loc string, keys ...string) {
	t.Helper()
	srv := w.Deps.Doctor()
	fleettest.Run(t, func(ctx context.Context) error { return srv.Serve(ctx, w.Deps.Conn) })
	path := "/v1/locations/" + loc + "/doctor"
	fleettest.Eventually(t, 30*time.Second, "the console's worker answers", func() bool {
		return w.do(t, "POST", path, bearer(keys[0]), nil).status == 200
	})
	var token string
	for _, l := range w.Locations {
		if l.ID == loc {
			token = l.Token
		}
	}
	used := func() int64 {
		var h struct {
			Items []struct {
				ID   string
				Rate struct{ DailyUsed int64 }
			}
		}
		w.do(t, "GET", "/v1/locations/health", bearer(testKey), nil).json(t, &h)
		for _, l := range h.Items {
			if l.ID == loc {
				return l.Rate.DailyUsed
			}
		}
		t.Fatalf("%s not in the health listing", loc)
		return 0
	}
	for _, key := range keys {
		before := used()
		var rep struct {
			Location string
			Calls    []struct {
				Name, Outcome, Raw string
				Status             int
				RateLimit          *struct{ Remaining, Max int }
			}
		}
		a := k.do(t, w, call{method: "POST", path: path, header: bearer(key), status: 200})
		a.json(t, &rep)
		if rep.Location != loc || len(rep.Calls) != 3 {
			t.Fatalf("report: %s", a.body)
		}
		for _, c := range rep.Calls[:2] {
			if c.Outcome != "ok" || c.Status != 200 || c.Raw == "" || c.RateLimit == nil {
				t.Errorf("call %s: %+v", c.Name, c)
			}
		}
		if strings.Contains(string(a.body), token) || strings.Contains(string(a.body), "Bearer") {
			t.Errorf("the report holds a token or an Authorization header: %s", a.body)
		}
		// The test calls went through the governor: they count against
		// the location's daily budget.
		fleettest.Eventually(t, 10*time.Second, "the test calls counted", func() bool { return used() >= before+3 })
	}
}
