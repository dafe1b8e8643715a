package bench

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The warm burst of issue 18 ("Fewer HighLevel calls"): one location the
// fleet already knows (its catalogue read, its contacts in HighLevel) gets
// 300 post events at once, each naming 1 to 3 of its 12 social tags and 1
// to 6 of its 120 contacts (fixed seed), with the simulator at HighLevel's
// real limit of 100 requests per 10 s. Target: at most 0.5 HighLevel calls
// per event.
const (
	warmEvents   = 300
	warmTags     = 12
	warmContacts = 120
	warmSeed     = 18
)

// BenchmarkWarmBurst reports the HighLevel calls per event of the warm
// burst (429s included: each is a round trip), the seconds from the first
// publication until every contact carries its tags, and checks that every
// contact ends with exactly the tags its events named.
func BenchmarkWarmBurst(b *testing.B) {
	const rateMax, window = 100, 10 * time.Second
	for b.Loop() {
		f := startRatedFleet(b, 1, rateMax, window)
		// One contact more than the burst uses: the warm-up's.
		l := f.addLocation(b, warmTags, warmContacts+1)
		loc := f.locs[l]

		// Warm-up: one event naming every tag, on a contact the burst does
		// not name, so the catalogue and every tag's details are known.
		all := make([]int, warmTags)
		for i := range all {
			all[i] = i
		}
		f.wait(b, []sent{f.publishTo(b, l, "warm", all, []string{loc.contacts[warmContacts]})})
		time.Sleep(window + 100*time.Millisecond) // a clean window
		before := len(f.env.Requests(b, loc.id))

		// The burst, from a fixed seed.
		r := rand.New(rand.NewPCG(warmSeed, warmSeed))
		want := map[string]map[string]bool{}
		for _, c := range loc.contacts[:warmContacts] {
			want[c] = map[string]bool{}
		}
		type event struct {
			tags     []int
			contacts []string
		}
		events := make([]event, warmEvents)
		for i := range events {
			e := &events[i]
			e.tags = r.Perm(warmTags)[:1+r.IntN(3)]
			for _, k := range r.Perm(warmContacts)[:1+r.IntN(6)] {
				c := loc.contacts[k]
				e.contacts = append(e.contacts, c)
				for _, t := range e.tags {
					want[c]["social:"+strings.ToLower(loc.tags[t].Tag)] = true
				}
			}
		}
		start := time.Now()
		for i, e := range events {
			f.publishTo(b, l, fmt.Sprintf("burst-%d", i), e.tags, e.contacts)
		}

		// Until every contact carries at least its tags.
		held := func() map[string][]string {
			out := map[string][]string{}
			for _, c := range f.env.Location(b, loc.id).Contacts {
				out[c.ID] = c.Tags
			}
			return out
		}
		deadline := start.Add(5 * time.Minute)
		var took time.Duration
		for {
			h := held()
			missing := 0
			for c, tags := range want {
				for t := range tags {
					if !slices.Contains(h[c], t) {
						missing++
					}
				}
			}
			if missing == 0 {
				took = time.Since(start)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d contact tags still missing 5 minutes after the burst", missing)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // let late calls land before counting

		// Exactly the tags named: nothing more, on any burst contact.
		h := held()
		for c, tags := range want {
			exp := slices.Sorted(maps.Keys(tags))
			got := slices.Sorted(slices.Values(h[c]))
			if !slices.Equal(got, exp) {
				b.Errorf("contact %s holds %v, want exactly %v", c, got, exp)
			}
		}
		reqs := f.env.Requests(b, loc.id)[before:]
		_, rejected := windowCheck(reqs, window)
		b.ReportMetric(float64(len(reqs))/warmEvents, "calls/event")
		b.ReportMetric(float64(len(reqs)), "calls")
		b.ReportMetric(took.Seconds(), "tagged-s")
		b.ReportMetric(float64(rejected), "429s")
		b.ReportMetric(0, "ns/op")
	}
}

// publishTo sends a post event for location l naming the tags of the
// given indexes and the given contacts.
func (p *pipeline) publishTo(tb testing.TB, l int, id string, tagIdx []int, contacts []string) sent {
	tb.Helper()
	loc := &p.locs[l]
	s := sent{loc: loc.id, contacts: contacts}
	var ids []string
	for _, i := range tagIdx {
		ids = append(ids, loc.tags[i].ID)
		s.want = append(s.want, "social:"+strings.ToLower(loc.tags[i].Tag))
	}
	postID := fmt.Sprintf("%024x", postSeq.Add(1))
	subject, _ := topology.PostTriggers.Subject(loc.id)
	s.at = time.Now()
	if _, err := p.env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{
		LocationId: loc.id, PostId: postID, TagIds: ids, ContactIds: contacts, OccurredAt: timestamppb.New(s.at),
		Source: "bench", EventId: "bench:" + loc.id + ":" + id,
	}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// postSeq numbers the posts publishTo sends.
var postSeq atomic.Int64
