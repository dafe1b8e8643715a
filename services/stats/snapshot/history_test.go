package snapshot

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socialsync/socialsync/pkg/report"
)

func TestExpired(t *testing.T) {
	days := []string{"2026-01-01", "2025-12-02", "2025-12-01", "2024-01-01"}
	if diff := cmp.Diff([]string{"2024-01-01", "2025-12-01"}, Expired(days, "2026-01-01", 30)); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	if got := Expired(days, "2026-01-01", 0); got != nil {
		t.Errorf("retention 0 expired %v", got)
	}
}

func TestCustomValues(t *testing.T) {
	trend := 3.0
	rec := report.Recommendations{From: "2026-01-01", To: "2026-01-28", BestPlatforms: []string{"tiktok"},
		Cadence: []report.Cadence{
			{Platform: "tiktok", Status: report.StatusOK, BestWeekdays: []string{"Monday", "Friday"}, SuggestedPostsPerWeek: 5, TrendPercent: &trend},
			{Platform: "google", Status: report.StatusNotEnoughData, Missing: []string{"8 posts, have 2"}},
		},
		Audience: []report.Audience{{Platform: "tiktok", Status: report.StatusOK, Gender: "female", GenderShare: 51.234, AgeBand: "18-24", AgeShare: 40}},
	}
	want := map[string]string{
		"socialsync_recommendations_period": "2026-01-01 … 2026-01-28",
		"socialsync_best_platforms":         "tiktok",
		"socialsync_tiktok_best_weekdays":   "Monday, Friday",
		"socialsync_tiktok_posts_per_week":  "5",
		"socialsync_google_best_weekdays":   "not enough data: need 8 posts, have 2",
		"socialsync_google_posts_per_week":  "not enough data: need 8 posts, have 2",
		"socialsync_tiktok_audience":        "female 51.23%, 18-24 40%",
	}
	if diff := cmp.Diff(want, CustomValues(rec)); diff != "" {
		t.Errorf("custom values (-want +got):\n%s", diff)
	}
}
