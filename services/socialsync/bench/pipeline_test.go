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

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

// pipeline is the whole fleet in one process against a zero-latency
// simulator with limits too high to matter.
type pipeline struct {
	env  *fleettest.Env
	locs []benchLocation
}

type benchLocation struct {
	id       string
	tags     []struct{ ID, Tag string }
	contacts []string
	next     int // next unused contact
}

func startPipeline(b *testing.B, locations, tags, contacts int) *pipeline {
	b.Helper()
	env := fleettest.Start(b, "empty")
	env.Admin(b, http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"max": 1_000_000, "window": "10s", "daily": 1_000_000_000}}, nil)
	p := &pipeline{env: env}
	for range locations {
		p.addLocation(b, tags, contacts)
	}
	comps, err := cli.Workers(env.Deps.Config, env.Deps)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range comps {
		wg.Add(1)
		go func(c fleet.Component) {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				b.Errorf("%s: %v", c.Name, err)
			}
		}(c)
	}
	b.Cleanup(func() { cancel(); wg.Wait() })
	return p
}

// sent is one published post event and the contact tags it should cause.
type sent struct {
	loc      string
	at       time.Time
	contacts []string
	want     []string
}

// publish sends a post event for location l with the given tag indexes and
// n fresh contacts. Only one goroutine may publish for a location.
func (p *pipeline) publish(tb testing.TB, l int, tagIdx []int, n int) sent {
	tb.Helper()
	loc := &p.locs[l]
	s := sent{loc: loc.id}
	var ids []string
	for _, i := range tagIdx {
		ids = append(ids, loc.tags[i].ID)
		s.want = append(s.want, "social:"+strings.ToLower(loc.tags[i].Tag))
	}
	for range n {
		s.contacts = append(s.contacts, loc.contacts[loc.next])
		loc.next++
	}
	postID := fmt.Sprintf("%024x", time.Now().UnixNano())
	subject, _ := topology.PostTriggers.Subject(loc.id)
	s.at = time.Now()
	if _, err := p.env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{
		LocationId: loc.id, PostId: postID, TagIds: ids, ContactIds: s.contacts, OccurredAt: timestamppb.New(s.at),
		Source: "bench", EventId: "bench:" + loc.id + ":" + postID,
	}); err != nil {
		tb.Error(err) // publish runs on publisher goroutines: no Fatal
	}
	return s
}

// done reports whether every contact of every event carries its tags,
// per the simulator's request log, and when each contact got its last tag.
func (p *pipeline) tagged(b *testing.B, events []sent) (map[string]time.Time, bool) {
	b.Helper()
	got := map[string][]string{}
	last := map[string]time.Time{}
	for _, r := range p.env.Requests(b, "") {
		if r.Status/100 != 2 {
			continue
		}
		for _, w := range r.TagWrites {
			if w.Op == "add" {
				for _, t := range w.Tags {
					got[w.ContactID] = append(got[w.ContactID], strings.ToLower(t))
				}
				last[w.ContactID] = r.At
			}
		}
	}
	for _, e := range events {
		for _, c := range e.contacts {
			for _, w := range e.want {
				if !slices.Contains(got[c], w) {
					return nil, false
				}
			}
		}
	}
	return last, true
}

func (p *pipeline) wait(b *testing.B, events []sent) map[string]time.Time {
	b.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if last, ok := p.tagged(b, events); ok {
			return last
		}
		if time.Now().After(deadline) {
			b.Fatal("not every contact was tagged within 3 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// addLocation creates a simulator location with tags social tags and
// contacts contacts, registers it, and returns its index in f.locs.
func (p *pipeline) addLocation(tb testing.TB, tags, contacts int) int {
	tb.Helper()
	l := len(p.locs)
	names := make([]string, tags)
	for i := range names {
		names[i] = fmt.Sprintf("Tag %d-%d", l, i)
	}
	cs := make([]map[string]any, contacts)
	for i := range cs {
		cs[i] = map[string]any{"id": fmt.Sprintf("bench%02dc%012d", l, i)}
	}
	var created struct{ ID, Token string }
	p.env.Admin(tb, http.MethodPost, "/_sandbox/locations", map[string]any{"name": fmt.Sprint("bench ", l), "timezone": "UTC",
		"socialTags": names, "contacts": cs}, &created)
	p.env.AddLocation(tb, ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: "UTC"})
	detail := p.env.Location(tb, created.ID)
	bl := benchLocation{id: created.ID}
	for _, t := range detail.SocialTags {
		bl.tags = append(bl.tags, struct{ ID, Tag string }{t.ID, t.Tag})
	}
	for _, c := range detail.Contacts {
		bl.contacts = append(bl.contacts, c.ID)
	}
	p.locs = append(p.locs, bl)
	return l
}

// warmUp sends one event per location and waits for it, so the catalogues
// are known before measuring.
func (p *pipeline) warmUp(b *testing.B) {
	b.Helper()
	var warm []sent
	for l := range p.locs {
		warm = append(warm, p.publish(b, l, []int{0, 1}, 1))
	}
	p.wait(b, warm)
}

// latencies returns, per contact, the time from its event's publication
// to its last tag write, and the time of the last write of all.
func latencies(evs []sent, last map[string]time.Time) ([]time.Duration, time.Time) {
	var lat []time.Duration
	var end time.Time
	for _, e := range evs {
		for _, c := range e.contacts {
			lat = append(lat, last[c].Sub(e.at))
			if last[c].After(end) {
				end = last[c]
			}
		}
	}
	return lat, end
}

func percentile(d []time.Duration, q float64) time.Duration {
	slices.Sort(d)
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// BenchmarkPipeline measures the fleet end to end against a zero-latency
// simulator: post events per second, trigger-to-contact-tag latency, and
// HighLevel calls per 1,000 post events; and, for a burst of 300 triggers
// on one location, the calls made against the fewest the work needs.
func BenchmarkPipeline(b *testing.B) {
	// throughput: 2,000 post events on 10 locations published at once.
	b.Run("throughput", func(b *testing.B) {
		for b.Loop() {
			const locations, events = 10, 2000
			p := startPipeline(b, locations, 20, 2*events/locations+2)
			p.warmUp(b)
			before := len(p.env.Requests(b, ""))
			start := time.Now()
			evs := make([]sent, events)
			var wg sync.WaitGroup
			for g := range locations { // one publisher per location: contacts are picked per location
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < events; i += locations {
						evs[i] = p.publish(b, g, []int{(i * 7) % 20, (i*7 + 3) % 20}, 2)
					}
				}()
			}
			wg.Wait()
			last := p.wait(b, evs)
			_, end := latencies(evs, last)
			b.ReportMetric(float64(events)/end.Sub(start).Seconds(), "events/s")
			b.ReportMetric(float64(len(p.env.Requests(b, ""))-before)*1000/events, "calls/1000-events")
		}
	})
	// latency: a steady 100 post events a second on 10 locations.
	b.Run("latency", func(b *testing.B) {
		for b.Loop() {
			const locations, events = 10, 500
			p := startPipeline(b, locations, 20, 2*events/locations+2)
			p.warmUp(b)
			evs := make([]sent, 0, events)
			tick := time.NewTicker(10 * time.Millisecond)
			for i := range events {
				<-tick.C
				evs = append(evs, p.publish(b, i%locations, []int{(i * 7) % 20, (i*7 + 3) % 20}, 2))
			}
			tick.Stop()
			lat, _ := latencies(evs, p.wait(b, evs))
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-ms")
		}
	})
	b.Run("burst", func(b *testing.B) {
		for b.Loop() {
			const burst = 300
			p := startPipeline(b, 1, 2, 2*burst)
			var evs []sent
			for range burst {
				evs = append(evs, p.publish(b, 0, []int{0, 1}, 2))
			}
			p.wait(b, evs)
			time.Sleep(2 * time.Second) // let late refreshes land before counting
			reqs := p.env.Requests(b, p.locs[0].id)
			calls := len(reqs)
			kinds := map[string]int{}
			for _, r := range reqs {
				path, _, _ := strings.Cut(r.Path, "?")
				if strings.HasPrefix(path, "/contacts/") && strings.HasSuffix(path, "/tags") && !strings.Contains(path, "bulk") {
					path = "/contacts/{id}/tags"
				}
				kinds[r.Method+" "+strings.ReplaceAll(path, p.locs[0].id, "{loc}")]++
			}
			b.Logf("calls by kind: %v", kinds) // shown with -v
			// The fewest calls the work needs: one catalogue fetch, one
			// details call, one location tags list, and one contact tag
			// write per post (its two contacts share it). Creating the two
			// location tags is not counted: HighLevel adds a contact's new
			// tag to the location's catalogue itself, so the enricher finds
			// them there when the contact writes came first.
			minimum := 1 + 1 + 1 + burst
			b.ReportMetric(float64(calls), "calls")
			b.ReportMetric(float64(minimum), "min-calls")
			b.ReportMetric(float64(calls)/float64(minimum), "calls/min")
		}
	})
}
