package gateway_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

type healthRow struct {
	ID, Name, Health     string
	Rank                 int
	Problems             []string
	Token                struct{ Status string }
	Waiting, DeadLetters uint64
	OldestWaiting        *time.Time
	LastStatsRun         *time.Time
	Rate                 struct{ Daily, DailyUsed, Remaining int64 }
}

// The view across locations puts the one in trouble first (its token
// record is gone), then the one with dead letters, then the others; it
// shows the waiting trigger's age and the last statistics run; a key
// limited to one location sees that one only.
func TestLocationsHealthRanksTroubleFirst(t *testing.T) {
	env := fleettest.Start(t, "demo")
	const limitedKey = "sk-limited-0123456789abcdef"
	w := startEnv(t, env, func(c *gateway.Config) {
		c.APIKeyHashes += ";" + gateway.HashAPIKey(limitedKey) + ":read:" + env.Locations[0].ID
	})
	if len(w.Locations) < 3 {
		t.Fatalf("the test needs 3 demo locations, has %d", len(w.Locations))
	}
	ctx := context.Background()
	waits, dead, broken := w.Locations[0].ID, w.Locations[1].ID, w.Locations[2].ID

	subject, _ := topology.PostTriggers.Subject(waits)
	if _, err := w.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: waits, PostId: "p1",
		Change: socialsyncv1.Change_CHANGE_CREATED, OccurredAt: timestamppb.Now(), EventId: "health:p1"}); err != nil {
		t.Fatal(err)
	}
	w.put(t, topology.BucketStatsHistory, report.HistoryKey(waits, time.Now().UTC().Format(report.DayLayout)), []byte(`{}`))
	w.deadLetter(t, "fetcher", dead, "socialsync.trigger.post."+dead, nil)
	w.deadLetter(t, "stats", dead, "socialsync.trigger.stats."+dead, nil)
	tokens, err := w.JS.KeyValue(ctx, topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Delete(ctx, broken); err != nil {
		t.Fatal(err)
	}

	var list struct {
		Items  []healthRow
		Counts map[string]int
	}
	w.api(t, http.MethodGet, "/v1/locations/health", "").json(t, &list)
	if len(list.Items) != len(w.Locations) {
		t.Fatalf("%d locations listed, want %d", len(list.Items), len(w.Locations))
	}
	first, second := list.Items[0], list.Items[1]
	if first.ID != broken || first.Health != "trouble" || first.Token.Status != "unknown" || len(first.Problems) == 0 {
		t.Errorf("first: %+v; want %s in trouble (token unreadable)", first, broken)
	}
	if second.ID != dead || second.Health != "warning" || second.DeadLetters != 2 {
		t.Errorf("second: %+v; want %s with 2 dead letters", second, dead)
	}
	if list.Counts["trouble"] != 1 || list.Counts["warning"] != 1 || list.Counts["ok"] != len(w.Locations)-2 {
		t.Errorf("counts: %v", list.Counts)
	}
	var row healthRow
	for _, r := range list.Items {
		if r.ID == waits {
			row = r
		}
	}
	if row.Health != "ok" || row.Waiting != 1 || row.OldestWaiting == nil || time.Since(*row.OldestWaiting) > time.Minute ||
		row.LastStatsRun == nil || row.Name == "" || row.Rate.Daily != 200_000 || row.Rate.Remaining <= 0 {
		t.Errorf("the location with a waiting trigger: %+v", row)
	}

	// A limited key sees its location only.
	a := w.do(t, http.MethodGet, "/v1/locations/health", http.Header{"Authorization": {"Bearer " + limitedKey}}, nil)
	var mine struct{ Items []healthRow }
	a.json(t, &mine)
	if a.status != http.StatusOK || len(mine.Items) != 1 || mine.Items[0].ID != waits {
		t.Errorf("limited key: %d %+v", a.status, mine.Items)
	}
}

// BenchmarkLocationsHealth answers the view across locations for 1,000
// locations, 100 of them with a waiting trigger (docs/gateway.md quotes
// the figure).
func BenchmarkLocationsHealth(b *testing.B) {
	env := fleettest.Start(b, "demo")
	w := startEnv(b, env, nil)
	ctx := context.Background()
	for i := range 1000 {
		id := "Bench" + string(rune('A'+i/100)) + string(rune('a'+i/10%10)) + string(rune('a'+i%10))
		if err := env.Deps.Creds.AddPIT(ctx, creds.Location{ID: id, Name: "Bench " + id}, "pit-"+id); err != nil {
			b.Fatal(err)
		}
		if i%10 == 0 {
			subject, _ := topology.PostTriggers.Subject(id)
			if _, err := env.Deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{LocationId: id, PostId: "p1",
				Change: socialsyncv1.Change_CHANGE_CREATED, OccurredAt: timestamppb.Now(), EventId: "bench:" + id}); err != nil {
				b.Fatal(err)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/v1/locations/health?limit=500", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
}
