package e2e

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
)

// TestReplicasShareTokensAndWindow runs three replicas of every worker as
// separate processes against OAuth locations whose access tokens live six
// seconds and whose refresh tokens are single-use, under steady trigger
// traffic plus one burst far over a location's window. The fleet must
// behave as one client: no refresh token is ever used twice (HighLevel
// would answer invalid_grant), each token lifetime ends in one refresh, no
// location's rolling window holds more than its limit, and every expected
// contact tag is written.
func TestReplicasShareTokensAndWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("twelve worker processes; skipped with -short")
	}
	runReplicas(t, replicaRun{
		ttl:     6 * time.Second,
		margin:  3 * time.Second, // more than SOCIALSYNC_RATE_MAX_WAIT
		maxWait: 2 * time.Second,
		cadence: true,
	})
}

// TestStressWindow is TestReplicasShareTokensAndWindow made harder: access
// tokens that live 3 s, on a machine whose CPUs are kept busy (`make
// stress` starts two CPU burners beside it), so that the time between a
// permit and its request's arrival is long and uneven. Every rolling
// window still holds at most its limit, HighLevel answers no 429, no
// refresh is refused and every expected contact tag is written. It runs
// only with SOCIALSYNC_STRESS=1 (`make stress`), not in `make test`.
func TestStressWindow(t *testing.T) {
	if os.Getenv("SOCIALSYNC_STRESS") != "1" {
		t.Skip("set SOCIALSYNC_STRESS=1 (make stress) to run it")
	}
	runReplicas(t, replicaRun{
		ttl:      3 * time.Second,
		margin:   1500 * time.Millisecond, // more than SOCIALSYNC_RATE_MAX_WAIT
		maxWait:  time.Second,
		burstAll: true,
	})
}

// replicaRun shapes a run of runReplicas.
type replicaRun struct {
	// ttl is the access tokens' lifetime, margin how early the workers
	// refresh them, maxWait SOCIALSYNC_RATE_MAX_WAIT.
	ttl, margin, maxWait time.Duration
	// cadence checks that each token lifetime ends in one refresh; on a
	// starved machine refreshes run late, which is no fault.
	cadence bool
	// burstAll bursts every location at once, not only the first, so that
	// every window is full for seconds.
	burstAll bool
}

// runReplicas runs three replicas of every worker as separate processes
// against three OAuth locations under steady trigger traffic and one
// burst, and checks what TestReplicasShareTokensAndWindow says.
func runReplicas(t *testing.T, run replicaRun) {
	const (
		replicas = 3
		rateMax  = 20
		window   = 2 * time.Second
		traffic  = 20 * time.Second
		burst    = 30
	)
	ttl, margin := run.ttl, run.margin
	f := newFleet(t)
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"accessTokenTTL": ttl.String(),
		"rateLimit": map[string]any{"max": rateMax, "window": window.String(), "daily": 200_000}}, nil)
	var apps struct {
		Apps []struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		} `json:"apps"`
	}
	f.admin(http.MethodGet, "/_sandbox/apps", nil, &apps)
	app := ghl.AppCredentials{ClientID: apps.Apps[0].ClientID, ClientSecret: apps.Apps[0].ClientSecret}
	f.env = append(f.env,
		"SOCIALSYNC_GHL_CLIENT_ID="+app.ClientID, "SOCIALSYNC_GHL_CLIENT_SECRET="+app.ClientSecret,
		"SOCIALSYNC_TOKEN_REFRESH_MARGIN="+margin.String(), "SOCIALSYNC_RATE_MAX_WAIT="+run.maxWait.String(),
		fmt.Sprintf("SOCIALSYNC_RATE_MAX=%d", rateMax), "SOCIALSYNC_RATE_WINDOW="+window.String())

	// Three locations connected by OAuth, as `socialsync connect` would
	// leave them: the operator hands over a refresh token.
	locs := f.locations(3)
	for _, d := range locs {
		tok := fleettest.Authorize(t, f.simURL, app, d.ID, "", ghl.UserTypeLocation)
		out := f.cli("locations", "add", "--nats", f.natsURL, "--location", d.ID, "--refresh-token", tok.RefreshToken, "--timezone", d.Timezone)
		if !strings.Contains(out, "registered") {
			t.Fatalf("locations add: %s", out)
		}
	}
	start := time.Now()
	for range replicas {
		for _, w := range []string{"fetcher", "enricher", "stats", "contactsync"} {
			f.worker(w)
		}
	}

	expected := map[string]map[string][]string{} // location → contact → tags
	n := 0
	postEvent := func(d ghlsim.LocationView) {
		tag := d.SocialTags[n%len(d.SocialTags)]
		contacts := []string{d.Contacts[(2*n)%len(d.Contacts)].ID, d.Contacts[(2*n+1)%len(d.Contacts)].ID}
		f.publishJSON("socialsync.trigger.post."+d.ID, fmt.Sprintf(
			`{"locationId":%q,"postId":"p%d","tagIds":[%q],"contactIds":[%q,%q],"eventId":"replicas-%d"}`,
			d.ID, n, tag.ID, contacts[0], contacts[1], n), "")
		if expected[d.ID] == nil {
			expected[d.ID] = map[string][]string{}
		}
		for _, c := range contacts {
			expected[d.ID][c] = append(expected[d.ID][c], "social:"+strings.ToLower(tag.Tag))
		}
		n++
	}
	// Steady traffic on every location, a statistics run per location now
	// and then, and halfway through a burst on the first location that its
	// window cannot take at once.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Since(start) < traffic; i++ {
		<-tick.C
		d := locs[i%len(locs)]
		postEvent(d)
		if i%12 < len(locs) {
			f.publishJSON("socialsync.trigger.stats."+d.ID, fmt.Sprintf(`{"locationId":%q}`, d.ID), "")
		}
		if i == int(traffic/(250*time.Millisecond))/2 {
			for range burst {
				postEvent(locs[0])
				if run.burstAll {
					postEvent(locs[1])
					postEvent(locs[2])
				}
			}
		}
	}
	t.Logf("%d post events with bursts of %d published in %v", n, burst, time.Since(start).Round(time.Millisecond))

	eventually(t, 3*time.Minute, "every expected contact tag", func() bool {
		for _, d := range locs {
			got := contactTags(f.location(d.ID))
			for c, tags := range expected[d.ID] {
				for _, tag := range tags {
					if !slices.Contains(got[c], tag) {
						return false
					}
				}
			}
		}
		return true
	})
	elapsed := time.Since(start)

	all := f.log("")
	var refused []string
	for _, r := range all {
		if r.Method == http.MethodPost && r.Path == "/oauth/token" && r.Status != http.StatusOK {
			refused = append(refused, fmt.Sprintf("%s %d", r.At.Format(time.StampMilli), r.Status))
		}
	}
	if len(refused) > 0 {
		t.Errorf("the token endpoint refused %d refreshes (a refresh token used twice is invalid_grant): %v", len(refused), refused)
	}
	for _, d := range locs {
		reqs := f.log(d.ID)
		// The refreshes since `locations add` exchanged the operator's
		// refresh token (the last token call before the workers started).
		var refreshes []time.Time
		unauthorized, limited := 0, 0
		for _, r := range reqs {
			switch {
			case r.Method == http.MethodPost && r.Path == "/oauth/token" && r.Status == http.StatusOK:
				if r.At.Before(start) {
					refreshes = refreshes[:0]
				}
				refreshes = append(refreshes, r.At)
			case r.Status == http.StatusUnauthorized:
				unauthorized++
			case r.Status == http.StatusTooManyRequests:
				limited++
			}
		}
		// Each refresh ends a token's lifetime: ttl, refreshed margin
		// early.
		lifetime := ttl - margin
		for i := 1; run.cadence && i < len(refreshes); i++ {
			if gap := refreshes[i].Sub(refreshes[i-1]); gap < lifetime-time.Second/2 {
				t.Errorf("%s: refreshes %v apart at %v: a token was refreshed before its lifetime was up",
					d.ID, gap.Round(time.Millisecond), refreshes[i].Format(time.StampMilli))
			}
		}
		if most := int(elapsed/lifetime) + 2; run.cadence && (len(refreshes) < 3 || len(refreshes) > most) {
			t.Errorf("%s: %d refreshes in %v; want one per token lifetime (%v), at most %d", d.ID, len(refreshes),
				elapsed.Round(time.Second), lifetime, most)
		}
		fullest, end := fleettest.FullestWindow(fleettest.APITimes(reqs), window)
		if fullest > rateMax {
			t.Errorf("%s: %d requests in the %v ending %v, allowed %d", d.ID, fullest, window, end.Format(time.StampMilli), rateMax)
		}
		if limited > 0 {
			t.Errorf("%s: %d requests answered 429", d.ID, limited)
		}
		t.Logf("%s: %d requests, %d token refreshes in %v, fullest window %d of %d, %d answered 429, %d answered 401",
			d.ID, len(reqs), len(refreshes), elapsed.Round(time.Second), fullest, rateMax, limited, unauthorized)
	}
	list := f.cli("locations", "list", "--nats", f.natsURL)
	if strings.Contains(list, "needs") {
		t.Errorf("a location needs re-auth:\n%s", list)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		if p.name == "socialsync" || p.name == "nats-server" {
			continue // the simulator prints its app's credentials on purpose
		}
		if out := p.out.String(); strings.Contains(out, "invalid_grant") || strings.Contains(out, app.ClientSecret) {
			t.Errorf("%s logged invalid_grant or the client secret:\n%s", p.name, tail(out, 20))
		}
	}
}

// locations returns the first n demo locations, deleted tags and contacts
// left out.
func (f *fleet) locations(n int) []ghlsim.LocationView {
	f.t.Helper()
	var list struct {
		Locations []struct {
			ID string `json:"id"`
		} `json:"locations"`
	}
	f.admin(http.MethodGet, "/_sandbox/locations", nil, &list)
	if len(list.Locations) < n {
		f.t.Fatalf("the simulator has %d locations, want %d", len(list.Locations), n)
	}
	out := make([]ghlsim.LocationView, 0, n)
	for _, l := range list.Locations[:n] {
		out = append(out, f.location(l.ID).Live())
	}
	return out
}
