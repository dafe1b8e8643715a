package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
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

// The cold-start comparison of issue "Fewer HighLevel calls": 500 post
// events over the simulator's five demo locations, each naming 1 to 3 of
// its location's live social tags and 1 to 6 of its live contacts (fixed
// seed), all sent at once to a location nobody has synced yet, with the
// simulator at HighLevel's real limit (100 requests per 10 s per
// location). The same events go to socialsync (every worker, in this
// process, on an in-process JetStream) and to the plain per-event
// integration below; each run has a simulator of its own, seeded alike.

const (
	coldEvents = 500
	coldSeed   = 18
)

// coldEvent is one post event of the workload.
type coldEvent struct {
	loc, token string
	tagIDs     []string
	tagNames   []string // contact tags wanted: social:<lower-case name>
	contacts   []string
}

// coldWorkload builds the events from the demo seed's live tags and
// contacts.
func coldWorkload(tb testing.TB, simURL string) []coldEvent {
	tb.Helper()
	var list struct {
		Locations []struct{ ID, Token string } `json:"locations"`
	}
	fleettest.Admin(tb, simURL, http.MethodGet, "/_sandbox/locations", nil, &list)
	type live struct {
		token         string
		tagIDs, names []string
		contacts      []string
	}
	locs := map[string]*live{}
	var ids []string
	for _, l := range list.Locations {
		d := fleettest.Location(tb, simURL, l.ID).Live()
		lv := &live{token: d.Token}
		for _, t := range d.SocialTags {
			lv.tagIDs, lv.names = append(lv.tagIDs, t.ID), append(lv.names, t.Tag)
		}
		for _, c := range d.Contacts {
			lv.contacts = append(lv.contacts, c.ID)
		}
		if len(lv.tagIDs) == 0 || len(lv.contacts) == 0 {
			continue
		}
		locs[l.ID] = lv
		ids = append(ids, l.ID)
	}
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(coldSeed, coldSeed))
	out := make([]coldEvent, 0, coldEvents)
	for i := range coldEvents {
		loc := ids[i%len(ids)]
		lv := locs[loc]
		ev := coldEvent{loc: loc, token: lv.token}
		for _, k := range r.Perm(len(lv.tagIDs))[:1+r.IntN(min(3, len(lv.tagIDs)))] {
			ev.tagIDs = append(ev.tagIDs, lv.tagIDs[k])
			ev.tagNames = append(ev.tagNames, "social:"+strings.ToLower(lv.names[k]))
		}
		for _, k := range r.Perm(len(lv.contacts))[:1+r.IntN(min(6, len(lv.contacts)))] {
			ev.contacts = append(ev.contacts, lv.contacts[k])
		}
		out = append(out, ev)
	}
	return out
}

// allTagged reports whether every contact of every event carries its
// tags in the simulator.
func allTagged(tb testing.TB, simURL string, events []coldEvent) bool {
	tb.Helper()
	held := map[string][]string{}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.loc] {
			continue
		}
		seen[e.loc] = true
		for _, c := range fleettest.Location(tb, simURL, e.loc).Contacts {
			held[c.ID] = c.Tags
		}
	}
	for _, e := range events {
		for _, c := range e.contacts {
			for _, t := range e.tagNames {
				if !slices.Contains(held[c], t) {
					return false
				}
			}
		}
	}
	return true
}

// calls counts the requests the simulator answered, 429s included: each
// is a round trip the sync made.
func calls(tb testing.TB, simURL string) int {
	tb.Helper()
	return len(fleettest.Requests(tb, simURL, ""))
}

// waitAllTagged polls until every contact is tagged, up to limit.
func waitAllTagged(b *testing.B, simURL string, events []coldEvent, limit time.Duration) time.Time {
	b.Helper()
	deadline := time.Now().Add(limit)
	for !allTagged(b, simURL, events) {
		if time.Now().After(deadline) {
			b.Fatalf("not every contact was tagged within %v", limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Now()
}

// plainIntegration is what a low-code flow does with each post event, one
// worker per location handling its events one after the other: list the
// location's social tags, ask the event's tags' details, then add the
// tags to each contact, one call per contact. A 429 is waited out
// (Retry-After) and the call made again, as any client must.
func plainIntegration(ctx context.Context, simURL string, events []coldEvent) error {
	byLoc := map[string][]coldEvent{}
	for _, e := range events {
		byLoc[e.loc] = append(byLoc[e.loc], e)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(byLoc))
	for _, evs := range byLoc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range evs {
				if err := plainEvent(ctx, simURL, e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func plainEvent(ctx context.Context, simURL string, e coldEvent) error {
	if _, err := plainCall(ctx, simURL, e.token, http.MethodGet, "/social-media-posting/"+e.loc+"/tags", nil); err != nil {
		return err
	}
	body, err := plainCall(ctx, simURL, e.token, http.MethodPost, "/social-media-posting/"+e.loc+"/tags/details", map[string]any{"tagIds": e.tagIDs})
	if err != nil {
		return err
	}
	var details struct {
		Results struct {
			Tags []struct {
				Tag string `json:"tag"`
			} `json:"tags"`
		} `json:"results"`
	}
	if err := json.Unmarshal(body, &details); err != nil {
		return fmt.Errorf("tag details: %w", err)
	}
	if len(details.Results.Tags) == 0 {
		return fmt.Errorf("tag details of %v: none in %s", e.tagIDs, body)
	}
	names := make([]string, 0, len(details.Results.Tags))
	for _, t := range details.Results.Tags {
		names = append(names, "social:"+strings.ToLower(t.Tag))
	}
	for _, c := range e.contacts {
		if _, err := plainCall(ctx, simURL, e.token, http.MethodPost, "/contacts/"+c+"/tags", map[string]any{"tags": names}); err != nil {
			return err
		}
	}
	return nil
}

// plainCall makes one HighLevel call, waiting out 429s.
func plainCall(ctx context.Context, simURL, token, method, path string, in any) ([]byte, error) {
	var data []byte
	if in != nil {
		data, _ = json.Marshal(in)
	}
	for {
		req, err := http.NewRequestWithContext(ctx, method, simURL+path, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Version", "2021-07-28")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			wait := time.Second
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		case resp.StatusCode/100 != 2:
			return nil, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, body)
		default:
			return body, nil
		}
	}
}

// BenchmarkColdStart runs the cold-start workload through socialsync and
// through the plain per-event integration, and reports each one's
// HighLevel calls and time until every contact is tagged, and the ratios
// (issue 18's targets: at most 1/5 of the calls, 1/3 of the time).
func BenchmarkColdStart(b *testing.B) {
	for range b.N {
		// socialsync: every worker in this process.
		env := fleettest.Start(b, "demo")
		events := coldWorkload(b, env.SimURL)
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
		start := time.Now()
		for i, e := range events {
			subject, _ := topology.PostTriggers.Subject(e.loc)
			if _, err := env.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{
				LocationId: e.loc, PostId: fmt.Sprintf("%024x", i+1), TagIds: e.tagIDs, ContactIds: e.contacts,
				OccurredAt: timestamppb.New(start), Source: "bench", EventId: fmt.Sprintf("cold-%d", i),
			}); err != nil {
				b.Fatal(err)
			}
		}
		ssTook := waitAllTagged(b, env.SimURL, events, 5*time.Minute).Sub(start)
		ssCalls := calls(b, env.SimURL)
		cancel()
		wg.Wait()

		// The plain integration, on a simulator of its own seeded alike.
		sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(sim)
		plain := coldWorkload(b, srv.URL)
		if len(plain) != len(events) || plain[0].loc != events[0].loc || !slices.Equal(plain[0].contacts, events[0].contacts) {
			srv.Close()
			b.Fatal("the two simulators' workloads differ")
		}
		pstart := time.Now()
		pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Minute)
		if err := plainIntegration(pctx, srv.URL, plain); err != nil {
			pcancel()
			srv.Close()
			b.Fatal(err)
		}
		pcancel()
		plainTook := waitAllTagged(b, srv.URL, plain, time.Minute).Sub(pstart)
		plainCalls := calls(b, srv.URL)
		srv.Close()

		b.ReportMetric(float64(ssCalls), "socialsync-calls")
		b.ReportMetric(ssTook.Seconds(), "socialsync-s")
		b.ReportMetric(float64(plainCalls), "plain-calls")
		b.ReportMetric(plainTook.Seconds(), "plain-s")
		b.ReportMetric(float64(ssCalls)/float64(plainCalls), "calls-ratio")
		b.ReportMetric(ssTook.Seconds()/plainTook.Seconds(), "time-ratio")
		b.ReportMetric(0, "ns/op")
	}
}
