package stats_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats"
)

// A location whose facebook statistics are planned in the simulator
// (Tuesday and Thursday posts earn 450 and 350 impressions, other days'
// 100), with three weeks of history taken on the simulator's clock set
// back, gets the recommendations that follow: post on Tuesday and
// Thursday, 9 posts a week now. Its instagram figures are the simulator's
// own; its linkedin account posts too little for a cadence. The worker's
// and the simulator's clocks are pinned to one day, so that the
// simulator's own figures are those of that day whatever the date.
func TestRecommendationsFromKnownStatistics(t *testing.T) {
	env := fleettest.Start(t, "empty")
	today := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC) // a Wednesday, at noon
	start := time.Now()
	clock := func() time.Time { return today.Add(time.Since(start)) }
	// setSimClock runs the simulator's clock from at.
	setSimClock := func(at time.Time) {
		env.Admin(t, http.MethodPut, "/_sandbox/clock", map[string]string{"offset": at.Sub(time.Now()).String()}, nil)
	}
	setSimClock(today)
	l := env.NewLocation(t, map[string]any{"id": "knownStatsLocation1", "timezone": "UTC", "accounts": []map[string]string{
		{"platform": "facebook"}, {"platform": "instagram"}, {"platform": "linkedin"}}})
	env.Admin(t, http.MethodPut, "/_sandbox/locations/"+l.ID+"/statistics", map[string]any{"platforms": map[string]any{
		"facebook": map[string]any{
			"weekdays":  map[string]any{"tuesday": map[string]float64{"posts": 2, "impressions": 900, "likes": 90}, "thursday": map[string]float64{"posts": 2, "impressions": 700, "likes": 70}},
			"otherDays": map[string]float64{"posts": 1, "impressions": 100, "likes": 5},
		},
		"linkedin": map[string]any{"otherDays": map[string]float64{"posts": 0, "impressions": 20, "likes": 1}},
	}}, nil)
	ctx := context.Background()
	history, err := env.JS.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	accounts, err := env.Deps.Client(l.ID).Accounts(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accounts.Accounts {
		ids = append(ids, a.ProfileID)
	}
	// Two past weeks' snapshots, taken as the worker would have on those
	// days.
	for _, back := range []int{14, 7} {
		setSimClock(today.AddDate(0, 0, -back))
		chunks, err := env.Deps.Client(l.ID).Statistics(ctx, l.ID, ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(chunks[0].Statistics)
		day := today.AddDate(0, 0, -back).Format(report.DayLayout)
		snap, _ := json.Marshal(report.Record{Day: day, TakenAt: today.AddDate(0, 0, -back), ProfileIDs: ids, Trigger: "past",
			Published: true, Followed: true, Chunks: []report.Chunk{{ProfileIDs: ids, Statistics: raw}}})
		if _, err := history.Put(ctx, report.HistoryKey(l.ID, day), snap); err != nil {
			t.Fatal(err)
		}
	}
	setSimClock(today)
	startWorkerWith(t, env, func(w *stats.Worker) { stats.SetClock(w, clock) })
	trigger(t, env, l.ID, "known-1")
	followed(t, env, l.ID, []string{today.Format(report.DayLayout)})

	evs := bustest.Messages(t, env.JS, topology.StreamEvents, "socialsync.event.recommendation."+l.ID)
	if len(evs) != 1 {
		t.Fatalf("%d recommendation events", len(evs))
	}
	var ev socialsyncv1.RecommendationsUpdated
	if err := bus.Unmarshal(evs[0].Header, evs[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	cad := map[string]*socialsyncv1.CadenceRecommendation{}
	for _, c := range ev.GetCadence() {
		cad[c.GetPlatform()] = c
	}
	fb := cad["facebook"]
	// 21 days: 3 Tuesdays, 3 Thursdays, 15 other days.
	if fb.GetStatus() != report.StatusOK || fb.GetDays() != 21 || fb.GetPosts() != 27 || fb.GetImpressions() != 3*900+3*700+15*100 || fb.GetPostsPerWeek() != 9 {
		t.Fatalf("facebook cadence %v", fb)
	}
	if diff := cmp.Diff([]string{"Tuesday", "Thursday"}, fb.GetBestWeekdays()); diff != "" {
		t.Errorf("best weekdays (-want +got):\n%s", diff)
	}
	want := 9
	switch trend := fb.GetTrendPercent(); {
	case trend >= -10:
		want = 10
	case trend < -20:
		want = 8
	}
	if fb.GetSuggestedPostsPerWeek() != int32(want) {
		t.Errorf("suggested %d posts a week with trend %v%%, want %d", fb.GetSuggestedPostsPerWeek(), fb.GetTrendPercent(), want)
	}
	if li := cad["linkedin"]; li.GetStatus() != report.StatusNotEnoughData || li.GetPosts() != 0 {
		t.Errorf("linkedin cadence %v", li)
	}
	if ig := cad["instagram"]; ig.GetStatus() != report.StatusOK || ig.GetDays() != 21 {
		t.Errorf("instagram cadence %v", ig)
	}
	if ev.GetBestPlatforms()[0] != "facebook" && ev.GetBestPlatforms()[0] != "instagram" {
		t.Errorf("best platforms %v", ev.GetBestPlatforms())
	}
	cv := customValues(t, env, l.ID)
	if cv["socialsync_facebook_best_weekdays"] != "Tuesday, Thursday" || cv["socialsync_facebook_posts_per_week"] != strconv.Itoa(want) {
		t.Errorf("custom values %v", cv)
	}
}
