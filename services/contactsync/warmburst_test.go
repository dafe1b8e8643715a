package contactsync_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// BenchmarkWarmBurst is the warm burst of issue "Fewer HighLevel calls"
// for contactsync alone: 300 post events on one location whose catalogue
// is known, each carrying 1–3 of 12 tags and 1–6 of 120 contacts (fixed
// seed), published at once, the simulator and the governor at HighLevel's
// real limit (100 requests per 10 s). It reports contactsync's HighLevel
// calls per event and the seconds until every contact has its tags.
//
//	cd services/contactsync && go test -run='^$' -bench=BenchmarkWarmBurst -benchtime=1x .
func BenchmarkWarmBurst(b *testing.B) {
	for range b.N {
		warmBurst(b)
	}
}

func warmBurst(b *testing.B) {
	const events, nTags, nContacts = 300, 12, 120
	env := fleettest.Start(b, "empty")
	var names []string
	for i := range nTags {
		names = append(names, fmt.Sprintf("Warm%02d", i))
	}
	loc, _ := env.NewTaggedLocation(b, names...)
	var l simLocation
	env.Admin(b, "GET", "/_sandbox/locations/"+loc, nil, &l)
	storeCatalogue(b, env, loc, l.SocialTags, nil, time.Now())
	var contacts []string
	for i := range nContacts {
		var c struct{ ID string }
		env.Admin(b, "POST", "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": fmt.Sprintf("Warm%d", i)}, &c)
		contacts = append(contacts, c.ID)
	}
	r := rand.New(rand.NewPCG(18, 300))
	want := map[string][]string{}
	var evs []*socialsyncv1.PostEvent
	for i := range events {
		ev := &socialsyncv1.PostEvent{LocationId: loc, PostId: fmt.Sprintf("warm-%03d", i)}
		var tags []string
		for _, j := range r.Perm(nTags)[:1+r.IntN(3)] {
			ev.TagIds = append(ev.TagIds, l.SocialTags[j].ID)
			tags = append(tags, social(l.SocialTags[j]))
		}
		for _, j := range r.Perm(nContacts)[:1+r.IntN(6)] {
			ev.ContactIds = append(ev.ContactIds, contacts[j])
			for _, t := range tags {
				if !slices.Contains(want[contacts[j]], t) {
					want[contacts[j]] = append(want[contacts[j]], t)
				}
			}
		}
		evs = append(evs, ev)
	}
	startWorker(b, env)
	before := len(env.Requests(b, loc))
	b.ResetTimer()
	start := time.Now()
	for _, ev := range evs {
		publish(b, env, ev)
	}
	fleettest.Eventually(b, 10*time.Minute, "every contact tagged", func() bool {
		var now simLocation
		env.Admin(b, "GET", "/_sandbox/locations/"+loc, nil, &now)
		for _, c := range now.Contacts {
			for _, t := range want[c.ID] {
				if !slices.Contains(c.Tags, t) {
					return false
				}
			}
		}
		return true
	})
	elapsed := time.Since(start)
	b.StopTimer()
	calls := len(env.Requests(b, loc)) - before
	b.ReportMetric(float64(calls)/events, "calls/event")
	b.ReportMetric(float64(calls), "calls")
	b.ReportMetric(elapsed.Seconds(), "s-until-tagged")
}
