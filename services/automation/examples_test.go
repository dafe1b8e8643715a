package automationworker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/socialsync/socialsync/pkg/automation"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// examples is the repository's examples/ directory.
const examples = "../../examples"

func readExample(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(examples, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Every shipped example loads and validates, as `socialsync segments
// apply` and `socialsync workflows apply` would take it.
func TestExamplesAreValid(t *testing.T) {
	var segs, wfs []string
	for _, kind := range []string{"segments", "workflows"} {
		files, err := filepath.Glob(filepath.Join(examples, kind, "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 3 {
			t.Fatalf("%d %s examples, want at least 3", len(files), kind)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if kind == "segments" {
				parsed, err := automation.ParseSegments(f, data)
				if err != nil {
					t.Errorf("%v", err)
				}
				for _, s := range parsed {
					segs = append(segs, s.Name)
				}
				continue
			}
			parsed, err := automation.ParseWorkflows(f, data)
			if err != nil {
				t.Errorf("%v", err)
			}
			for _, w := range parsed {
				wfs = append(wfs, w.Name)
			}
		}
	}
	for _, want := range []string{"engaged-promo-fans", "lapsed-contacts", "product-curious"} {
		if !slices.Contains(segs, want) {
			t.Errorf("no example segment %q in %v", want, segs)
		}
	}
	for _, want := range []string{"notify-new-tag", "hot-leads-on-rising-impressions", "promo-vip-on-enter", "announce-promo-tags"} {
		if !slices.Contains(wfs, want) {
			t.Errorf("no example workflow %q in %v", want, wfs)
		}
	}
}

// The examples at work: two recent promo posts make contacts engaged
// promo fans (and promo VIPs, announced on NATS); rising impressions tag
// them hot leads and record the change; a flat week tags no one.
func TestExamplesEndToEnd(t *testing.T) {
	env := fleettest.Start(t, "empty")
	li := env.NewLocation(t, map[string]any{"timezone": "UTC", "socialTags": []string{"promo", "sale"},
		"contacts": []map[string]any{{"firstName": "X"}, {"firstName": "Y"}, {"firstName": "Z"}}})
	loc := li.ID
	contacts := env.LiveContacts(t, loc, 3)
	x, y, z := contacts[0], contacts[1], contacts[2]
	for _, f := range []string{"segments/engaged-promo-fans.yaml"} {
		applySegments(t, env, string(readExample(t, f)))
	}
	for _, f := range []string{"workflows/hot-leads.yaml", "workflows/segment-followups.yaml"} {
		applyWorkflows(t, env, string(readExample(t, f)))
	}
	announced := subscribe(t, env, "acme.segments.entered")
	startWorker(t, env)

	// x and y: two promo posts this month; z: one.
	now := time.Now()
	for i, at := range []time.Time{now.Add(-48 * time.Hour), now.Add(-time.Hour)} {
		p := fmt.Sprintf("post%d", i)
		primePost(t, env, loc, p, []string{"t-promo"}, at)
		linked := []string{x, y}
		if i == 1 {
			linked = append(linked, z)
		}
		tagPost(t, env, loc, p, []string{"promo"}, at, linked...)
	}
	waitTags(t, env, loc, []string{x, y}, []string{"segment:engaged-promo-fans", "promo-vip"}, nil)
	fleettest.Eventually(t, 10*time.Second, "two announcements", func() bool { return len(announced()) == 2 })
	if tg := contactTags(t, env, loc, z); hasTag(tg, "segment:engaged-promo-fans") || hasTag(tg, "promo-vip") {
		t.Errorf("z, with one promo post, has %v", tg)
	}

	stats := func(change float64) *socialsyncv1.StatsSnapshot {
		m, err := structpb.NewStruct(map[string]any{
			"totals":     map[string]any{"impressions": 1200},
			"breakdowns": map[string]any{"impressions": map[string]any{"total": 1200, "totalChange": change}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return &socialsyncv1.StatsSnapshot{LocationId: loc, Endpoint: "POST /social-media-posting/statistics", Metrics: m,
			Day: now.Format(time.DateOnly), ProfileIds: []string{"p1"}}
	}
	publishEvent(t, env, topology.StatsEvents, loc, stats(35.5))
	waitTags(t, env, loc, []string{x, y}, []string{"hot-lead"}, nil)
	fleettest.Eventually(t, 10*time.Second, "custom value", func() bool {
		v, _ := customValue(t, env, loc, "socialsync_impressions_change")
		return v == "35.5%"
	})
	if hasTag(contactTags(t, env, loc, z), "hot-lead") {
		t.Error("z, not an engaged promo fan, is a hot lead")
	}

	// A flat week: the condition refuses, nothing is written.
	hotLeadWrites := func() int {
		n := 0
		for _, r := range env.Requests(t, loc) {
			for _, w := range r.TagWrites {
				if slices.Contains(w.Tags, "hot-lead") {
					n++
				}
			}
		}
		return n
	}
	before := hotLeadWrites()
	waitEventsHandled(t, env, publishEvent(t, env, topology.StatsEvents, loc, stats(3)))
	if got := hotLeadWrites(); got != before {
		t.Errorf("a 3%% change wrote hot-lead %d more times", got-before)
	}
}
