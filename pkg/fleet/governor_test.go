package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
)

// Two processes connected with the same SOCIALSYNC_RATE_* share one budget
// per location: their calls together stay within HighLevel's window, and
// a call that would have to wait long comes back as a deferral for the
// bus.
func TestConnectGovernsCalls(t *testing.T) {
	env := fleettest.Start(t, "demo")
	const max, window = 5, time.Second
	env.Admin(t, http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": max, "window": window.String()}}, nil)
	cfg := env.Deps.Config
	cfg.RateMax, cfg.RateWindow, cfg.RateMaxWait = max, window, 50*time.Millisecond
	loc := env.Locations[0].ID
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	for i := range 2 {
		d, err := fleet.Connect(ctx, fmt.Sprint("process", i), cfg, fleet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close(context.Background()) })
		wg.Go(func() {
			deferred := 0
			for done := 0; done < 2*max; {
				_, err := d.Client(loc).Accounts(ctx, loc)
				class, delay := bus.Classify(err)
				switch {
				case err == nil:
					done++
				case class == bus.ClassDeferred && delay > 0:
					deferred++
					time.Sleep(delay)
				default:
					t.Errorf("call: %v (class %v)", err, class)
					return
				}
			}
			if deferred == 0 {
				t.Error("twice the window's calls in one process, none deferred")
			}
		})
	}
	wg.Wait()

	reqs := env.Requests(t, loc)
	if len(reqs) != 4*max {
		t.Errorf("%d requests, want %d", len(reqs), 4*max)
	}
	for i, r := range reqs {
		if r.Status != http.StatusOK {
			t.Errorf("request %d: status %d", i, r.Status)
		}
	}
	fleettest.CheckWindow(t, fleettest.APITimes(reqs), max, window)
}

func TestConnectRejectsNegativeRates(t *testing.T) {
	env := fleettest.Start(t, "empty")
	cfg := env.Deps.Config
	cfg.RateMax = -1
	_, err := fleet.Connect(context.Background(), "t", cfg, fleet.Options{})
	if !errors.Is(err, fleet.ErrConfig) || !strings.Contains(err.Error(), "SOCIALSYNC_RATE") {
		t.Fatalf("Connect with SOCIALSYNC_RATE_MAX=-1: %v, want a configuration error naming it", err)
	}
}
