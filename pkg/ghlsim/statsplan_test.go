package ghlsim

import (
	"net/http"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// A planned platform reports exactly the planned figures; the clock
// offset moves the window; bad plans and offsets are refused.
func TestStatisticsPlanAndClock(t *testing.T) {
	start := time.Date(2026, 3, 19, 12, 0, 0, 0, time.UTC) // a Thursday
	e := newEnvAt(t, "empty", start)
	var created struct{ ID, Token string }
	e.admin("POST", "/_sandbox/locations", map[string]any{"accounts": []map[string]string{{"platform": "facebook"}, {"platform": "tiktok"}}}).
		want(t, http.StatusCreated).decode(t, &created)
	loc := LocationInfo{ID: created.ID, Token: created.Token}
	e.admin("PUT", "/_sandbox/locations/"+loc.ID+"/statistics", map[string]any{"platforms": map[string]any{"facebook": map[string]any{
		"weekdays": map[string]any{"monday": map[string]float64{"posts": 3, "impressions": 300, "likes": 30}}, "otherDays": map[string]float64{"posts": 1, "impressions": 10, "likes": 1},
	}}}).want(t, http.StatusOK)
	var ids []string
	for _, a := range e.detail(loc.ID).Accounts {
		ids = append(ids, a.ProfileID)
	}
	window := func() ghl.Statistics {
		var out ghl.StatisticsResponse
		e.stats(loc, ghl.StatisticsRequest{ProfileIDs: ids}).want(t, http.StatusCreated).decode(t, &out)
		return out.Results
	}
	// The week before Thursday 19 March has one Monday (16 March).
	st := window()
	if got := st.PostPerformance.Posts["facebook"]; sum(got) != 3+6 || st.PlatformTotals.Impressions["facebook"].Total != 300+60 {
		t.Errorf("planned facebook: posts %v, impressions %v", got, st.PlatformTotals.Impressions["facebook"].Total)
	}
	if st.PlatformTotals.Impressions["tiktok"].Total == 0 {
		t.Error("unplanned tiktok lost its generated figures")
	}
	// Three days back it is Monday 16 March: the window runs from Monday
	// 9 to Sunday 15.
	e.admin("PUT", "/_sandbox/clock", map[string]string{"offset": "-72h"}).want(t, http.StatusOK)
	if st := window(); st.DayRange[0] != "Mon" || st.DayRange[6] != "Sun" || st.PostPerformance.Posts["facebook"][0] != 3 {
		t.Errorf("window three days back: %v, facebook posts %v", st.DayRange, st.PostPerformance.Posts["facebook"])
	}
	e.admin("PUT", "/_sandbox/clock", map[string]string{"offset": "soon"}).want(t, http.StatusBadRequest)
	e.admin("PUT", "/_sandbox/locations/"+loc.ID+"/statistics", map[string]any{"platforms": map[string]any{"facebook": map[string]any{
		"weekdays": map[string]any{"funday": map[string]float64{}}}}}).want(t, http.StatusBadRequest)
	e.admin("PUT", "/_sandbox/locations/"+loc.ID+"/statistics", map[string]any{"platforms": map[string]any{"myspace": map[string]any{}}}).want(t, http.StatusBadRequest)
}
