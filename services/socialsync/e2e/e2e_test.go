package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
)

func (f *fleet) location(id string) ghlsim.LocationView {
	f.t.Helper()
	return fleettest.Location(f.t, f.simURL, id)
}

func (f *fleet) firstLocation() ghlsim.LocationView {
	f.t.Helper()
	return f.locations(1)[0]
}

// register adds the location with its PIT through the CLI, as an operator would.
func (f *fleet) register(d ghlsim.LocationView) {
	f.t.Helper()
	out := f.cli("locations", "add", "--nats", f.natsURL, "--location", d.ID, "--pit", d.Token, "--timezone", d.Timezone)
	if !strings.Contains(out, "registered") {
		f.t.Fatalf("locations add: %s", out)
	}
}

// post creates a post carrying tags in the simulator and publishes its
// trigger through the CLI.
func (f *fleet) post(loc string, tags, contacts []string) string {
	f.t.Helper()
	var p struct {
		ID string `json:"_id"`
	}
	f.admin(http.MethodPost, "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": tags, "platform": "facebook"}, &p)
	f.cli("trigger", "post", "--nats", f.natsURL, "--location", loc, "--post", p.ID,
		"--tags", strings.Join(tags, ","), "--contacts", strings.Join(contacts, ","), "--event-id", "e2e:"+p.ID)
	return p.ID
}

func contactTags(d ghlsim.LocationView) map[string][]string {
	m := map[string][]string{}
	for _, c := range d.Contacts {
		m[c.ID] = c.Tags
	}
	return m
}

// TestPipeline runs nats-server, the simulator and the four workers (two
// contactsync replicas) as separate processes: a post trigger ends with the
// post's tags on its contacts, the tags mirrored into the location's tag
// catalogue, and a stats trigger ends with a stored snapshot.
func TestPipeline(t *testing.T) {
	f := newFleet(t)
	d := f.firstLocation()
	f.register(d)
	for _, w := range []string{"fetcher", "enricher", "stats", "contactsync", "contactsync"} {
		f.worker(w)
	}
	tags := []string{d.SocialTags[0].ID, d.SocialTags[1].ID}
	contacts := []string{d.Contacts[0].ID, d.Contacts[1].ID, d.Contacts[2].ID}
	// Published as an OpenTelemetry-instrumented system would, with the
	// stock protojson form and a W3C traceparent.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	f.publishJSON("socialsync.trigger.post."+d.ID, fmt.Sprintf(`{"locationId":%q,"postId":"65f151c99bc2bf3aaf970d72","tagIds":[%q,%q],"contactIds":[%q,%q,%q],"eventId":"e2e-traced"}`,
		d.ID, tags[0], tags[1], contacts[0], contacts[1], contacts[2]), "00-"+traceID+"-00f067aa0ba902b7-01")

	want := []string{"social:" + strings.ToLower(d.SocialTags[0].Tag), "social:" + strings.ToLower(d.SocialTags[1].Tag)}
	eventually(t, 60*time.Second, "the post's tags on its contacts", func() bool {
		got := contactTags(f.location(d.ID))
		for _, c := range contacts {
			for _, w := range want {
				if !slices.Contains(got[c], w) {
					return false
				}
			}
		}
		return true
	})
	eventually(t, 30*time.Second, "the tags mirrored into the location's tag catalogue", func() bool {
		lt := f.location(d.ID).LocationTags
		return slices.Contains(lt, want[0]) && slices.Contains(lt, want[1])
	})

	// One trace from the trigger to HighLevel, through every worker: the
	// fetcher's catalogue fetch, the enricher's details call (asked for by
	// the fetcher) and contactsync's contact tag write.
	traced := map[string]bool{}
	for _, r := range f.log(d.ID) {
		if r.TraceID == traceID {
			traced[r.Method+" "+strings.ReplaceAll(strings.Split(r.Path, "?")[0], d.ID, "{loc}")] = true
		}
	}
	for _, want := range []string{"GET /social-media-posting/{loc}/tags", "POST /social-media-posting/{loc}/tags/details",
		"POST /contacts/bulk/tags/update/add"} {
		if !traced[want] {
			t.Errorf("no %s in the trigger's trace; traced calls: %v", want, traced)
		}
	}

	f.cli("trigger", "stats", "--nats", f.natsURL, "--location", d.ID)
	kv, err := js.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a statistics snapshot in the history", func() bool {
		keys, err := kv.Keys(context.Background())
		if err != nil {
			return false
		}
		for _, k := range keys {
			if strings.HasPrefix(k, d.ID+".") {
				return true
			}
		}
		return false
	})
}

// TestCrashRecovery kills contactsync with SIGKILL in the middle of a run of
// post events and restarts it: every expected contact tag ends up there, and
// no contact was asked twice for the same tag, but for adds HighLevel took
// before the kill, which the redelivery may send once more.
func TestCrashRecovery(t *testing.T) {
	f := newFleet(t)
	d := f.firstLocation()
	f.register(d)
	// Slow HighLevel down so the kill lands mid-run.
	f.admin(http.MethodPut, "/_sandbox/faults", map[string]any{"latencyMs": 100}, nil)
	f.worker("fetcher")
	f.worker("enricher")
	cs := f.worker("contactsync")

	const posts = 30
	expected := map[string][]string{}
	for i := range posts {
		tag := d.SocialTags[i%len(d.SocialTags)]
		contacts := []string{d.Contacts[(2*i)%len(d.Contacts)].ID, d.Contacts[(2*i+1)%len(d.Contacts)].ID}
		f.post(d.ID, []string{tag.ID}, contacts)
		for _, c := range contacts {
			expected[c] = append(expected[c], "social:"+strings.ToLower(tag.Tag))
		}
	}
	eventually(t, 60*time.Second, "some contacts tagged before the kill", func() bool {
		return len(f.writes(d.ID)) >= 4
	})
	cs.kill()
	// Whatever reaches the simulator before the new process starts came
	// from the killed one: its requests still in flight arrive within
	// moments of the kill, long before a new process has connected,
	// fetched and asked for a permit.
	restartedAt := time.Now()
	f.worker("contactsync")
	eventually(t, 90*time.Second, "every expected contact tag", func() bool {
		got := contactTags(f.location(d.ID))
		for c, tags := range expected {
			for _, tag := range tags {
				if !slices.Contains(got[c], tag) {
					return false
				}
			}
		}
		return true
	})
	// The simulator logs a request with its arrival time, also one still
	// in flight at the kill, logged once it ends.
	seen, beforeKill := map[string]int{}, map[string]bool{}
	before := 0
	for _, r := range f.log(d.ID) {
		for _, w := range tagAdds(r) {
			seen[w]++
			if r.At.Before(restartedAt) {
				beforeKill[w] = true
				before++
			}
		}
	}
	// An add HighLevel took whose state the killed process had not yet
	// stored is sent again once by its redelivery (harmless: the contact
	// has the tag); nothing else is written twice.
	repeated := 0
	for w, n := range seen {
		switch {
		case n > 2 || n == 2 && !beforeKill[w]:
			t.Errorf("written %d times: %s (before the kill: %v)", n, w, beforeKill[w])
		case n == 2:
			repeated++
		}
	}
	t.Logf("%d tag writes, %d of them before the kill, %d sent again after it", len(f.writes(d.ID)), before, repeated)
}

// log returns the simulator's request log for loc.
func (f *fleet) log(loc string) []fleettest.Request {
	f.t.Helper()
	var log struct {
		Requests []fleettest.Request `json:"requests"`
	}
	f.admin(http.MethodGet, "/_sandbox/requests?location="+loc, nil, &log)
	return log.Requests
}

// writes lists the contact tag additions the simulator was asked for, one
// "contact tag" line per contact and tag.
func (f *fleet) writes(loc string) []string {
	f.t.Helper()
	var out []string
	for _, r := range f.log(loc) {
		out = append(out, tagAdds(r)...)
	}
	return out
}

// tagAdds lists the contact tag additions HighLevel took in r, one
// "contact tag" line per contact and tag.
func tagAdds(r fleettest.Request) []string {
	if r.Status/100 != 2 {
		return nil
	}
	var out []string
	for _, w := range r.TagWrites {
		if w.Op != "add" {
			continue
		}
		for _, tag := range w.Tags {
			out = append(out, fmt.Sprintf("%s %s", w.ContactID, strings.ToLower(tag)))
		}
	}
	return out
}
