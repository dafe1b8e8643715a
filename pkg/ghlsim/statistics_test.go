package ghlsim

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// stats requests statistics for a location.
func (e *env) stats(loc LocationInfo, body any) *resp {
	e.t.Helper()
	return e.api("POST", "/social-media-posting/statistics?locationId="+loc.ID, loc.Token, body)
}

// wantDayRange is the weekday names of the 7 days before today in tz.
func wantDayRange(t *testing.T, tz string, now time.Time) []string {
	t.Helper()
	zone, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	local := now.In(zone)
	var out []string
	for i := 7; i >= 1; i-- {
		out = append(out, local.AddDate(0, 0, -i).Weekday().String()[:3])
	}
	return out
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

func TestStatistics(t *testing.T) {
	e := newEnv(t, "demo")
	for _, i := range []int{0, 3} { // New York and Sydney are on different days at testStart
		loc := e.loc(i)
		t.Run(loc.Timezone, func(t *testing.T) {
			accounts := e.detail(loc.ID).Accounts
			var ids []string
			wantPlatforms := map[string]bool{}
			for _, a := range accounts {
				ids = append(ids, a.ProfileID)
				wantPlatforms[a.Platform] = true
			}
			r := e.stats(loc, ghl.StatisticsRequest{ProfileIDs: append(ids, "ffffffffffffffffffffffff")}).want(t, http.StatusCreated)
			raw := r.object(t)
			for _, k := range []string{"success", "statusCode"} {
				if _, ok := raw[k]; ok {
					t.Errorf("statistics body has %q: it has no envelope", k)
				}
			}
			var res ghl.StatisticsResponse
			r.decode(t, &res)
			st := res.Results
			if res.Message != "Analytics Built Successfully" || res.TraceID == "" {
				t.Errorf("message/traceId = %q/%q", res.Message, res.TraceID)
			}
			if diff := cmp.Diff(wantDayRange(t, loc.Timezone, testStart()), st.DayRange); diff != "" {
				t.Errorf("dayRange (-want +got):\n%s", diff)
			}
			gotPlatforms := map[string]bool{}
			for p, series := range st.PostPerformance.Posts {
				gotPlatforms[p] = true
				if len(series) != 7 {
					t.Errorf("posts series of %s has %d days", p, len(series))
				}
			}
			if diff := cmp.Diff(wantPlatforms, gotPlatforms); diff != "" {
				t.Errorf("platforms (-want +got):\n%s", diff)
			}
			for _, series := range [][]float64{st.PostPerformance.Impressions, st.PostPerformance.Likes, st.PostPerformance.Comments} {
				if len(series) != 7 {
					t.Errorf("series has %d days, want 7", len(series))
				}
			}
			if st.Totals.Impressions == 0 || st.Totals.Followers == 0 {
				t.Errorf("totals are empty: %+v", st.Totals)
			}
			if st.Totals.Impressions != sum(st.PostPerformance.Impressions) || st.Totals.Impressions != st.Breakdowns.Impressions.Total {
				t.Errorf("impressions disagree: totals %v, series %v, breakdown %v",
					st.Totals.Impressions, sum(st.PostPerformance.Impressions), st.Breakdowns.Impressions.Total)
			}
			var byPlatform, followers float64
			for p, v := range st.Breakdowns.Posts.Platforms {
				byPlatform += v.Value
				followers += st.PlatformTotals.Followers[p].Total
				if got := sum(st.PostPerformance.Posts[p]); got != v.Value {
					t.Errorf("%s posts: series sums to %v, breakdown says %v", p, got, v.Value)
				}
			}
			if byPlatform != st.Totals.Posts || followers != st.Totals.Followers {
				t.Errorf("platform sums %v/%v, totals %v/%v", byPlatform, followers, st.Totals.Posts, st.Totals.Followers)
			}
			g := st.Demographics.Gender.Totals
			if g["male"].Total+g["female"].Total+g["unknown"].Total != st.Totals.Followers {
				t.Errorf("gender totals do not add up to followers: %+v", g)
			}
			var ages float64
			for _, v := range st.Demographics.Age.Totals {
				ages += v
			}
			if ages != st.Totals.Followers || len(st.Demographics.Age.Totals) != 7 {
				t.Errorf("age totals %v over %d bands, want %v over 7", ages, len(st.Demographics.Age.Totals), st.Totals.Followers)
			}
		})
	}
}

func TestStatisticsDeterministic(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(1)
	accounts := e.detail(loc.ID).Accounts
	ids := []string{accounts[0].ProfileID, accounts[1].ProfileID}
	get := func(t *testing.T, body ghl.StatisticsRequest) ghl.Statistics {
		t.Helper()
		var res ghl.StatisticsResponse
		e.stats(loc, body).want(t, http.StatusCreated).decode(t, &res)
		return res.Results
	}
	first := get(t, ghl.StatisticsRequest{ProfileIDs: ids})
	if diff := cmp.Diff(first, get(t, ghl.StatisticsRequest{ProfileIDs: []string{ids[1], ids[0], ids[1]}})); diff != "" {
		t.Errorf("same profile set, other order (-first +second):\n%s", diff)
	}

	t.Run("platform filter", func(t *testing.T) {
		only := get(t, ghl.StatisticsRequest{ProfileIDs: ids, Platforms: []string{accounts[0].Platform}})
		if len(only.PostPerformance.Posts) != 1 || !cmp.Equal(only.PlatformTotals.Impressions[accounts[0].Platform], first.PlatformTotals.Impressions[accounts[0].Platform]) {
			t.Errorf("filtered = %+v", only.PlatformTotals.Impressions)
		}
	})
	t.Run("next day shifts the window", func(t *testing.T) {
		e.clock.Advance(24 * time.Hour)
		t.Cleanup(func() { e.clock.Advance(-24 * time.Hour) })
		next := get(t, ghl.StatisticsRequest{ProfileIDs: ids})
		p := accounts[0].Platform
		if diff := cmp.Diff(first.PlatformTotals.Impressions[p].Series[1:], next.PlatformTotals.Impressions[p].Series[:6]); diff != "" {
			t.Errorf("shared days differ (-yesterday +today):\n%s", diff)
		}
		if slices.Equal(first.DayRange, next.DayRange) {
			t.Errorf("dayRange did not move: %v", next.DayRange)
		}
	})
	t.Run("another instance agrees", func(t *testing.T) {
		other := newEnv(t, "demo")
		var res ghl.StatisticsResponse
		other.stats(loc, ghl.StatisticsRequest{ProfileIDs: ids}).want(t, http.StatusCreated).decode(t, &res)
		if diff := cmp.Diff(first, res.Results); diff != "" {
			t.Errorf("two instances (-first +other):\n%s", diff)
		}
	})
}

func TestStatisticsErrors(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	many := make([]string, 101)
	for i := range many {
		many[i] = strings.Repeat("a", 23) + string(rune('a'+i%6))
	}
	tests := []struct {
		name   string
		query  string
		body   any
		status int
		msg    string
	}{
		{"too many profiles", "?locationId=" + loc.ID, ghl.StatisticsRequest{ProfileIDs: many}, http.StatusBadRequest, "100"},
		{"bad platform", "?locationId=" + loc.ID, ghl.StatisticsRequest{ProfileIDs: []string{"x"}, Platforms: []string{"myspace"}}, http.StatusBadRequest, "platforms"},
		{"no profileIds", "?locationId=" + loc.ID, map[string]any{"platforms": []string{"facebook"}}, http.StatusUnprocessableEntity, "profileIds"},
		{"no body", "?locationId=" + loc.ID, nil, http.StatusUnprocessableEntity, "profileIds"},
		{"empty profileIds", "?locationId=" + loc.ID, ghl.StatisticsRequest{ProfileIDs: []string{}}, http.StatusUnprocessableEntity, "profileIds"},
		{"no locationId", "", ghl.StatisticsRequest{ProfileIDs: []string{"x"}}, http.StatusUnprocessableEntity, "locationId"},
		{"other location", "?locationId=" + e.loc(1).ID, ghl.StatisticsRequest{ProfileIDs: []string{"x"}}, http.StatusForbidden, msgNoLocation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.api("POST", "/social-media-posting/statistics"+tt.query, loc.Token, tt.body).wantError(t, tt.status, tt.msg)
		})
	}
}
