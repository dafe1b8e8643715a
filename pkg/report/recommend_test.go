package report_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
)

// synthetic returns the snapshot taken on day whose seven days have, for
// each platform, the posts and impressions per post that perDay gives.
func synthetic(t *testing.T, taken string, perDay map[string]func(time.Weekday) (posts, ipp float64)) report.Snapshot {
	t.Helper()
	st := ghl.Statistics{
		PostPerformance: ghl.PostPerformance{Posts: map[string][]float64{}},
		PlatformTotals:  ghl.PlatformTotals{Impressions: map[string]ghl.SeriesTotal{}, Likes: map[string]ghl.SeriesTotal{}, Followers: map[string]ghl.SeriesTotal{}},
	}
	for p, f := range perDay {
		var posts, impr, likes, followers []float64
		for i := range 7 {
			d, _ := report.ParseDay(day(t, taken, i-7))
			n, ipp := f(d.Weekday())
			posts = append(posts, n)
			impr = append(impr, n*ipp)
			likes = append(likes, n*ipp/10)
			followers = append(followers, 1000)
		}
		st.PostPerformance.Posts[p] = posts
		st.PlatformTotals.Impressions[p] = ghl.SeriesTotal{Series: impr}
		st.PlatformTotals.Likes[p] = ghl.SeriesTotal{Series: likes}
		st.PlatformTotals.Followers[p] = ghl.SeriesTotal{Series: followers}
	}
	return report.Snapshot{Day: taken, Answers: []ghl.Statistics{st}}
}

// Known data: on facebook, Tuesday and Thursday posts earn three and two
// and a half times the impressions of other days' posts; instagram has one
// week of statistics only, and linkedin posts too rarely.
func TestRecommendationsFollowFromKnownData(t *testing.T) {
	facebook := func(wd time.Weekday) (float64, float64) {
		switch wd {
		case time.Tuesday:
			return 2, 300
		case time.Thursday:
			return 2, 250
		}
		return 2, 100
	}
	linkedin := func(wd time.Weekday) (float64, float64) {
		if wd == time.Monday {
			return 1, 50
		}
		return 0, 0
	}
	instagram := func(time.Weekday) (float64, float64) { return 1, 500 }
	const last = "2026-06-29"
	var snaps []report.Snapshot
	for w := range 4 {
		per := map[string]func(time.Weekday) (float64, float64){"facebook": facebook, "linkedin": linkedin}
		if w == 0 {
			per["instagram"] = instagram
		}
		snaps = append(snaps, synthetic(t, day(t, last, -7*w), per))
	}
	// The newest snapshot also carries facebook's audience.
	snaps[0].Audience = map[string][]ghl.Demographics{"facebook": {{
		Gender: ghl.GenderDemographics{Totals: map[string]ghl.Share{"female": {Total: 600}, "male": {Total: 300}, "unknown": {Total: 100}}},
		Age:    ghl.AgeDemographics{Totals: map[string]float64{"18-24": 200, "25-34": 500, "35-44": 300}},
	}}}
	rec := report.Recommend(snaps, day(t, last, -28), day(t, last, -1))

	byPlatform := map[string]report.Cadence{}
	for _, c := range rec.Cadence {
		byPlatform[c.Platform] = c
	}
	fb := byPlatform["facebook"]
	if fb.Status != report.StatusOK || fb.Days != 28 || fb.Posts != 56 {
		t.Fatalf("facebook cadence %+v", fb)
	}
	if diff := cmp.Diff([]string{"Tuesday", "Thursday"}, fb.BestWeekdays); diff != "" {
		t.Errorf("best weekdays (-want +got):\n%s", diff)
	}
	// 14 posts a week, impressions per post steady: one more.
	if fb.PostsPerWeek != 14 || fb.SuggestedPostsPerWeek != 15 || fb.TrendPercent == nil || *fb.TrendPercent != 0 {
		t.Errorf("facebook: %v posts a week, suggested %d, trend %v", fb.PostsPerWeek, fb.SuggestedPostsPerWeek, fb.TrendPercent)
	}
	wantIPP := (4*2*300 + 4*2*250 + 20*2*100) / 56.0
	if diff := fb.ImpressionsPerPost - wantIPP; diff > 0.01 || diff < -0.01 {
		t.Errorf("impressions per post %v, want %v", fb.ImpressionsPerPost, wantIPP)
	}
	ig := byPlatform["instagram"]
	if ig.Status != report.StatusNotEnoughData || len(ig.BestWeekdays) != 0 || ig.Missing[0] != "14 days of statistics, have 7" {
		t.Errorf("instagram with one week: %+v", ig)
	}
	if li := byPlatform["linkedin"]; li.Status != report.StatusNotEnoughData || li.Posts != 4 {
		t.Errorf("linkedin with 4 posts: %+v", li)
	}
	if diff := cmp.Diff([]string{"facebook"}, rec.BestPlatforms); diff != "" {
		t.Errorf("best platforms (-want +got):\n%s", diff)
	}
	aud := map[string]report.Audience{}
	for _, a := range rec.Audience {
		aud[a.Platform] = a
	}
	if a := aud["facebook"]; a.Status != report.StatusOK || a.Gender != "female" || a.GenderShare != 60 || a.AgeBand != "25-34" || a.AgeShare != 50 {
		t.Errorf("facebook audience %+v", a)
	}
	if a := aud["linkedin"]; a.Status != report.StatusNotEnoughData || len(a.Missing) == 0 {
		t.Errorf("linkedin audience without demographics %+v", a)
	}
}

// With the simulator's figures, every platform with four weeks gets a
// cadence and an audience taken from its own accounts.
func TestRecommendationsFromTheSimulator(t *testing.T) {
	const last = "2026-07-15"
	sim := newSim(t, time.Now(), "facebook", "instagram", "youtube")
	var snaps []report.Snapshot
	for w := range 4 {
		snaps = append(snaps, sim.snapshot(t, day(t, last, -7*w)))
	}
	rec := report.Recommend(snaps, day(t, last, -28), day(t, last, -1))
	if len(rec.Cadence) != 3 || len(rec.Audience) != 3 {
		t.Fatalf("recommendations %+v", rec)
	}
	for _, a := range rec.Audience {
		d := snaps[0].Audience[a.Platform][0]
		if a.Status != report.StatusOK || a.Genders["female"] != d.Gender.Totals["female"].Total || a.Ages["25-34"] != d.Age.Totals["25-34"] {
			t.Errorf("%s audience %+v, simulator %+v", a.Platform, a, d)
		}
	}
}
