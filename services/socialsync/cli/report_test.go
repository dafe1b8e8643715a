package cli

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// With every worker running, posts published as triggers end up in the
// report: posts per tag from the enricher's relations, contacts reached
// per tag from the contacts contactsync linked, names from the details.
func TestReportCountsPostsAndContactsPerTag(t *testing.T) {
	env := fleettest.Start(t, "empty")
	l := env.NewLocation(t, map[string]any{
		"timezone":   "UTC",
		"socialTags": []string{"Promo", "Tips", "Quiet"},
		"accounts":   []map[string]string{{"platform": "facebook"}},
		"contacts":   []map[string]any{{"firstName": "A"}, {"firstName": "B"}, {"firstName": "C"}},
	})
	detail := env.Location(t, l.ID)
	tag := map[string]string{}
	for _, tg := range detail.SocialTags {
		tag[tg.Tag] = tg.ID
	}
	var c []string
	for _, ct := range detail.Contacts {
		c = append(c, ct.ID)
	}
	if len(c) != 3 {
		t.Fatalf("contacts %v", c)
	}
	components, err := Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range components {
		fleettest.Run(t, comp.Run)
	}
	ctx := context.Background()
	subject, _ := topology.PostTriggers.Subject(l.ID)
	now := timestamppb.New(time.Now())
	for _, ev := range []*socialsyncv1.PostEvent{
		{LocationId: l.ID, PostId: "post1", TagIds: []string{tag["Promo"]}, ContactIds: c[:2], OccurredAt: now, EventId: "r1"},
		{LocationId: l.ID, PostId: "post2", TagIds: []string{tag["Promo"], tag["Tips"]}, ContactIds: c[1:], OccurredAt: now, EventId: "r2"},
	} {
		if _, err := env.Deps.Publisher.Publish(ctx, subject, ev); err != nil {
			t.Fatal(err)
		}
	}
	// The posts' day, from the very time they carry: no midnight between.
	today := now.AsTime().UTC().Format(report.DayLayout)
	want := map[string][2]int{"Promo": {2, 3}, "Tips": {1, 2}, "Quiet": {0, 0}}
	var r report.Report
	fleettest.Eventually(t, 30*time.Second, "tags in the report", func() bool {
		out, errOut, code := runCLI(t, "report", "--nats", env.URL(), "--location", l.ID, "--from", today, "--to", today, "--format", "json")
		if code != 0 {
			t.Fatalf("report: exit %d: %s", code, errOut)
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		got := map[string][2]int{}
		for _, row := range r.Tags {
			got[row.Name] = [2]int{row.Posts, row.Contacts}
		}
		for name, w := range want {
			if got[name] != w {
				return false
			}
		}
		return true
	})
	if len(r.TopTags) != 2 || r.TopTags[0].Name != "Promo" || r.TopTags[1].Name != "Tips" {
		t.Errorf("top tags %+v", r.TopTags)
	}
}
