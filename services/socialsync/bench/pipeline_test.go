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

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
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
	for l := range locations {
		names := make([]string, tags)
		for i := range names {
			names[i] = fmt.Sprintf("Tag %d-%d", l, i)
		}
		cs := make([]map[string]any, contacts)
		for i := range cs {
			cs[i] = map[string]any{"id": fmt.Sprintf("bench%02dc%010d", l, i)}
		}
		var created struct{ ID, Token string }
		env.Admin(b, http.MethodPost, "/_sandbox/locations", map[string]any{"name": fmt.Sprint("bench ", l), "timezone": "UTC",
			"socialTags": names, "contacts": cs}, &created)
		env.AddLocation(b, ghlsim.LocationInfo{ID: created.ID, Token: created.Token, Timezone: "UTC"})
		var detail struct {
			SocialTags []struct {
				ID  string `json:"_id"`
				Tag string `json:"tag"`
			} `json:"socialTags"`
			Contacts []struct {
				ID string `json:"id"`
			} `json:"contacts"`
		}
		env.Admin(b, http.MethodGet, "/_sandbox/locations/"+created.ID, nil, &detail)
		bl := benchLocation{id: created.ID}
		for _, t := range detail.SocialTags {
			bl.tags = append(bl.tags, struct{ ID, Tag string }{t.ID, t.Tag})
		}
		for _, c := range detail.Contacts {
			bl.contacts = append(bl.contacts, c.ID)
		}
		p.locs = append(p.locs, bl)
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

// publish sends a post event for loc with the given tag indexes and n fresh
// contacts.
func (p *pipeline) publish(b *testing.B, l int, tagIdx []int, n int) sent {
	b.Helper()
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
	subject, _ := bus.PostTriggers.Subject(loc.id)
	s.at = time.Now()
	if _, err := p.env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{
		LocationId: loc.id, PostId: postID, TagIds: ids, ContactIds: s.contacts, OccurredAt: timestamppb.New(s.at),
		Source: "bench", EventId: "bench:" + loc.id + ":" + postID,
	}); err != nil {
		b.Fatal(err)
	}
	return s
}

type logEntry struct {
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Status    int       `json:"status"`
	At        time.Time `json:"at"`
	TagWrites []struct {
		ContactID string   `json:"contactId"`
		Op        string   `json:"op"`
		Tags      []string `json:"tags"`
	} `json:"tagWrites"`
}

func (p *pipeline) requests(b *testing.B, loc string) []logEntry {
	b.Helper()
	var log struct {
		Requests []logEntry `json:"requests"`
	}
	q := "/_sandbox/requests"
	if loc != "" {
		q += "?location=" + loc
	}
	p.env.Admin(b, http.MethodGet, q, nil, &log)
	return log.Requests
}

// done reports whether every contact of every event carries its tags,
// per the simulator's request log, and when each contact got its last tag.
func (p *pipeline) tagged(b *testing.B, events []sent) (map[string]time.Time, bool) {
	b.Helper()
	got := map[string][]string{}
	last := map[string]time.Time{}
	for _, r := range p.requests(b, "") {
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
	b.Run("steady", func(b *testing.B) {
		for b.Loop() {
			const locations, events = 10, 500
			p := startPipeline(b, locations, 20, 2*events/locations+2)
			// Warm up: one event per location, so the catalogues are known.
			var warm []sent
			for l := range locations {
				warm = append(warm, p.publish(b, l, []int{0, 1}, 1))
			}
			p.wait(b, warm)
			before := len(p.requests(b, ""))
			var evs []sent
			start := time.Now()
			for i := range events {
				evs = append(evs, p.publish(b, i%locations, []int{(i * 7) % 20, (i*7 + 3) % 20}, 2))
				time.Sleep(2 * time.Millisecond) // a steady stream, not one burst
			}
			last := p.wait(b, evs)
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
			calls := len(p.requests(b, "")) - before
			b.ReportMetric(float64(events)/end.Sub(start).Seconds(), "events/s")
			b.ReportMetric(float64(percentile(lat, 0.50).Milliseconds()), "p50-ms")
			b.ReportMetric(float64(percentile(lat, 0.99).Milliseconds()), "p99-ms")
			b.ReportMetric(float64(calls)*1000/events, "calls/1000-events")
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
			calls := len(p.requests(b, p.locs[0].id))
			// The fewest calls the work needs: one catalogue fetch, one
			// details call, one location tags list and a create per tag,
			// and one contact tag write per post (its two contacts share it).
			minimum := 1 + 1 + 1 + 2 + burst
			b.ReportMetric(float64(calls), "calls")
			b.ReportMetric(float64(minimum), "min-calls")
			b.ReportMetric(float64(calls)/float64(minimum), "calls/min")
		}
	})
}
