package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// ratedFleet is a fleet of replica processes, each with its own NATS
// connection, rate governor and the four workers, sharing one JetStream
// server and a simulator that holds every location to max requests per
// rolling window. The governors are configured with the same limits.
type ratedFleet struct {
	*pipeline
}

func startRatedFleet(tb testing.TB, replicas, max int, window time.Duration) *ratedFleet {
	tb.Helper()
	env := fleettest.Start(tb, "empty")
	env.Admin(tb, http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{
		"max": max, "window": window.String(), "daily": 200_000}}, nil)
	cfg := env.Deps.Config
	cfg.RateMax, cfg.RateWindow = max, window
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer tb.Cleanup(func() { cancel(); wg.Wait() }) // first of the cleanups: workers stop before their connections close
	for i := range replicas {
		deps, err := fleet.Connect(ctx, fmt.Sprint("replica", i), cfg, fleet.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { deps.Close(context.Background()) })
		comps, err := cli.Workers(cfg, deps)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range comps {
			wg.Go(func() {
				if err := c.Run(ctx); err != nil {
					tb.Errorf("replica %d %s: %v", i, c.Name, err)
				}
			})
		}
	}
	return &ratedFleet{pipeline: &pipeline{env: env}}
}

// wait waits until every contact of every event carries the event's tags,
// per the simulator's log.
func (f *ratedFleet) wait(tb testing.TB, events []sent) {
	tb.Helper()
	fleettest.Eventually(tb, 2*time.Minute, "every contact tagged", func() bool {
		got := map[string][]string{}
		for _, r := range f.env.Requests(tb, "") {
			if r.Status/100 != 2 {
				continue
			}
			for _, w := range r.TagWrites {
				if w.Op == "add" {
					for _, t := range w.Tags {
						got[w.ContactID] = append(got[w.ContactID], strings.ToLower(t))
					}
				}
			}
		}
		for _, e := range events {
			for _, c := range e.contacts {
				for _, w := range e.want {
					if !slices.Contains(got[c], w) {
						return false
					}
				}
			}
		}
		return true
	})
}

// taggedAt returns when contact got its last tag written, per the
// simulator's log.
func (f *ratedFleet) taggedAt(tb testing.TB, loc, contact string) (time.Time, bool) {
	tb.Helper()
	var at time.Time
	for _, r := range f.env.Requests(tb, loc) {
		if r.Status/100 != 2 {
			continue
		}
		for _, w := range r.TagWrites {
			if w.Op == "add" && w.ContactID == contact {
				at = r.At
			}
		}
	}
	return at, !at.IsZero()
}

// windowCheck returns the most API requests of reqs in any rolling
// window and how many were answered 429.
func windowCheck(reqs []fleettest.Request, window time.Duration) (fullest, rejected int) {
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			rejected++
		}
	}
	fullest, _ = fleettest.FullestWindow(fleettest.APITimes(reqs), window)
	return fullest, rejected
}

// One location whose budget is exhausted for the whole run, with
// hundreds of post events queued far over its window, does not hold up
// another location's: a location new to the fleet gets its first contact
// tag, and a known one each of its tags, within 2 s of its event. The
// workers hand the paced location's messages back to JetStream and keep
// pulling.
//
// The backlog stays under the durable's MaxAckPending (256): a message
// handed back with a delay still counts as pending, so a longer backlog
// stops the server from delivering anything else to the durable until A's
// pending messages drop below it.
func TestNoisyNeighbour(t *testing.T) {
	const (
		rateMax, window = 20, 2 * time.Second
		backlog         = 200 // events, one contact write each: 20s of A's budget
		probes          = 3
		// A location whose messages waited behind the backlog would wait
		// for most of its 20s; one handed its turn waits the ordinary
		// trigger-to-tag latency, plus a new location's catalogue reads.
		bound = 2 * time.Second
	)
	f := startRatedFleet(t, 2, rateMax, window)
	// Each of A's events carries a tag of its own: contactsync merges
	// the writes of events that want the same tags (contact-tags.md), and
	// A's backlog must keep its budget spent.
	a := f.addLocation(t, backlog, backlog+1)
	b := f.addLocation(t, 2, probes+1)
	f.wait(t, []sent{f.publish(t, a, []int{0, 1}, 1), f.publish(t, b, []int{0, 1}, 1)})
	time.Sleep(window) // a clean window for A

	aID := f.locs[a].id
	before := len(f.env.Requests(t, aID))
	for i := range backlog {
		f.publish(t, a, []int{i}, 1)
	}
	// A's window is spent before the first probe.
	fleettest.Eventually(t, 10*time.Second, "A's window spent", func() bool {
		return len(f.env.Requests(t, aID))-before >= rateMax
	})
	// The fetcher and the enricher take every post trigger in stream order
	// once (the fetcher coalesces A's into one pending refresh): on a
	// loaded machine that first pass over A's backlog takes seconds, and
	// it is not what is measured. What is measured starts once both have
	// seen the whole backlog: contactsync's paced messages, handed back
	// again and again, must not hold up the others.
	for _, durable := range []string{topology.DurableFetcher, topology.DurableEnricher} {
		fleettest.Eventually(t, 30*time.Second, durable+" has seen A's backlog", func() bool {
			c, err := f.env.Deps.JS.Consumer(context.Background(), topology.StreamTriggers, durable)
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumPending == 0
		})
	}
	probe := func(what string, l int, tag int) time.Duration {
		ev := f.publish(t, l, []int{tag}, 1)
		var done time.Time
		fleettest.Eventually(t, 15*time.Second, what+" tagged", func() bool {
			var ok bool
			done, ok = f.taggedAt(t, f.locs[l].id, ev.contacts[0])
			return ok
		})
		lat := done.Sub(ev.at)
		t.Logf("%s: contact tagged %v after its event", what, lat)
		return lat
	}
	var worst time.Duration
	for i := range probes {
		time.Sleep(500 * time.Millisecond)
		// A location the fleet never saw: its first event reads its
		// catalogue before it writes.
		fresh := f.addLocation(t, 2, 2)
		worst = max(worst, probe(fmt.Sprintf("new location %d's first event", i), fresh, 0))
		time.Sleep(500 * time.Millisecond)
		worst = max(worst, probe(fmt.Sprintf("B's event %d", i), b, i%2))
	}
	if worst > bound {
		t.Errorf("other locations' events took up to %v while A's budget was spent, want within %v", worst, bound)
	}

	aReqs := f.env.Requests(t, aID)
	writes := 0
	for _, r := range aReqs {
		if strings.HasPrefix(r.Path, "/contacts/") && r.Status/100 == 2 {
			writes++
		}
	}
	if writes >= backlog {
		t.Fatalf("A's backlog was drained (%d contact writes) before the last probe: the test proves nothing", writes)
	}
	// A's window was full throughout: the last window before the end held
	// (nearly) its max.
	end := slices.MaxFunc(aReqs, func(x, y fleettest.Request) int { return x.At.Compare(y.At) }).At
	inLast := 0
	for _, r := range aReqs {
		if r.At.After(end.Add(-window)) {
			inLast++
		}
	}
	if inLast < rateMax*3/4 {
		t.Errorf("A made %d requests in its last window, of %d: its budget was not spent throughout", inLast, rateMax)
	}
	fullest, rejected := windowCheck(aReqs, window)
	if fullest > rateMax || rejected > 0 {
		t.Errorf("A: fullest window %d of %d, %d answered 429", fullest, rateMax, rejected)
	}
	t.Logf("A: %d requests, %d contact writes, fullest window %d (max %d), %d answered 429", len(aReqs), writes, fullest, rateMax, rejected)
}

// BenchmarkRateLimit measures the fleet against HighLevel's rate limit
// under a backlog on one location: with 1 and 3 replicas on a simulator
// window scaled down to 40 requests per 2 s, so that a run takes seconds,
// and with 1 and 3 replicas at HighLevel's real 100 requests per 10 s
// (issue 18's targets):
//
//   - utilisation: how full the fleet kept HighLevel's window during the
//     drain: the requests in a rolling window ÷ the window's max, averaged
//     over every window between the backlog's first request and its last
//     contact write (utilisation-all: to the location's last request,
//     background work put off until after the backlog included);
//     target ≥ 0.97 (the ceiling with the guard, a hundredth of the
//     window, is 0.990);
//   - 429s: requests HighLevel refused; target 0;
//   - fullest: the most requests in one rolling window; at most max;
//   - drain/min: the time from publishing the backlog to its last
//     contact write ÷ the least the budget allows for the drain's
//     requests, ⌊(requests−1)/max⌋ windows; target ≤ 1.05.
func BenchmarkRateLimit(b *testing.B) {
	for _, bc := range []struct {
		max               int
		window            time.Duration
		replicas, backlog int
	}{
		{40, 2 * time.Second, 1, 200},
		{40, 2 * time.Second, 3, 200},
		// Under the durables' MaxAckPending (256): see TestNoisyNeighbour.
		{100, 10 * time.Second, 1, 250},
		{100, 10 * time.Second, 3, 250},
	} {
		rateMax, window, backlog := bc.max, bc.window, bc.backlog
		b.Run(fmt.Sprintf("window=%d/%v/replicas=%d", rateMax, window, bc.replicas), func(b *testing.B) {
			for b.Loop() {
				f := startRatedFleet(b, bc.replicas, rateMax, window)
				// A tag per event: one contact write each, which no
				// merging can fold (contact-tags.md).
				l := f.addLocation(b, backlog, backlog+1)
				loc := f.locs[l].id
				f.wait(b, []sent{f.publish(b, l, []int{0, 1}, 1)}) // catalogue, details, location tags
				time.Sleep(window + 100*time.Millisecond)          // a clean window
				before := len(f.env.Requests(b, loc))

				start := time.Now()
				evs := make([]sent, 0, backlog)
				for i := range backlog {
					evs = append(evs, f.publish(b, l, []int{i}, 1))
				}
				f.wait(b, evs)
				time.Sleep(window) // let stragglers land before counting
				reqs := f.env.Requests(b, loc)[before:]
				fullest, rejected := windowCheck(reqs, window)
				// The backlog's drain: from its first request to its last
				// contact write. Requests after it (a catalogue refresh the
				// background lane put off while the backlog held the
				// window) are not the backlog's; "utilisation-all" counts
				// them too.
				var lastWrite time.Time
				for _, r := range reqs {
					if strings.HasPrefix(r.Path, "/contacts/") && r.Status/100 == 2 && r.At.After(lastWrite) {
						lastWrite = r.At
					}
				}
				var drain []fleettest.Request
				for _, r := range reqs {
					if !r.At.After(lastWrite) {
						drain = append(drain, r)
					} else {
						b.Logf("after the backlog's last write, %v later: %s %s %d", r.At.Sub(lastWrite).Round(time.Millisecond), r.Method, r.Path, r.Status)
					}
				}
				least := time.Duration((len(drain)-1)/rateMax) * window
				b.ReportMetric(fleettest.Utilisation(fleettest.APITimes(drain), rateMax, window), "utilisation")
				b.ReportMetric(fleettest.Utilisation(fleettest.APITimes(reqs), rateMax, window), "utilisation-all")
				b.ReportMetric(float64(rejected), "429s")
				b.ReportMetric(float64(fullest), "fullest")
				b.ReportMetric(lastWrite.Sub(start).Seconds()/least.Seconds(), "drain/min")
				b.ReportMetric(float64(len(drain)), "requests")
			}
		})
	}
}
