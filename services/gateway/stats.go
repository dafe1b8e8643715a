package gateway

import (
	"encoding/json"
	"net/http"
	"sort"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
)

// statsDay is one day of the history as the API shows it: totals, per
// platform figures and the 7-day daily series HighLevel returned that day
// (dayRange names their days).
type statsDay struct {
	Day       string                          `json:"day"`
	TakenAt   time.Time                       `json:"takenAt"`
	Profiles  int                             `json:"profiles"`
	Totals    ghl.StatTotals                  `json:"totals"`
	Platforms map[string]platformStats        `json:"platforms"`
	DayRange  []string                        `json:"dayRange"`
	Series    map[string]map[string][]float64 `json:"series"`
}

type platformStats struct {
	Posts       float64 `json:"posts"`
	Impressions float64 `json:"impressions"`
	Reach       float64 `json:"reach"`
	Followers   float64 `json:"followers"`
	Likes       float64 `json:"likes"`
	Comments    float64 `json:"comments"`
	Shares      float64 `json:"shares"`
}

// listStats is the statistics history, newest day first, optionally from
// and to a day (YYYY-MM-DD, inclusive).
func (g *Gateway) listStats(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	from, to, ok := dayQuery(w, r)
	if !ok {
		return
	}
	raw, err := scan(r.Context(), g.kv.history, report.HistoryPattern(l.ID))
	if err != nil {
		g.storeError(w, "read statistics", err)
		return
	}
	var days []statsDay
	for key, data := range raw {
		day, ok := report.DayOfKey(l.ID, key)
		if !ok || (from != "" && day < from) || (to != "" && day > to) {
			continue
		}
		var s report.Record
		err := json.Unmarshal(data, &s)
		var sd statsDay
		if err == nil {
			sd, err = toStatsDay(day, s)
		}
		if err != nil {
			g.log.Warn("stored statistics unreadable", "location", l.ID, "day", day, "err", err)
			continue
		}
		days = append(days, sd)
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Day > days[j].Day })
	lo, hi, next := p.window(len(days))
	writeJSON(w, http.StatusOK, list[statsDay]{Items: append([]statsDay{}, days[lo:hi]...), NextCursor: next})
}

// toStatsDay sums a snapshot's chunks: each covers other profiles. A
// chunk without statistics counts as zero; one whose statistics do not
// decode makes the day unreadable.
func toStatsDay(day string, s report.Record) (statsDay, error) {
	out := statsDay{Day: day, TakenAt: s.TakenAt, Profiles: len(s.ProfileIDs), Platforms: map[string]platformStats{},
		DayRange: []string{}, Series: map[string]map[string][]float64{"posts": {}, "impressions": {}, "followers": {}, "likes": {}}}
	add := func(series map[string][]float64, platform string, values []float64) {
		cur := series[platform]
		for i, v := range values {
			if i < len(cur) {
				cur[i] += v
			} else {
				cur = append(cur, v)
			}
		}
		series[platform] = cur
	}
	for _, c := range s.Chunks {
		var st ghl.Statistics
		if len(c.Statistics) > 0 {
			if err := json.Unmarshal(c.Statistics, &st); err != nil {
				return statsDay{}, err
			}
		}
		if len(st.DayRange) > len(out.DayRange) {
			out.DayRange = st.DayRange
		}
		out.Totals.Posts += st.Totals.Posts
		out.Totals.Likes += st.Totals.Likes
		out.Totals.Followers += st.Totals.Followers
		out.Totals.Impressions += st.Totals.Impressions
		out.Totals.Comments += st.Totals.Comments
		update := func(platform string, f func(*platformStats)) {
			ps := out.Platforms[platform]
			f(&ps)
			out.Platforms[platform] = ps
		}
		for pl, v := range st.Breakdowns.Posts.Platforms {
			update(pl, func(ps *platformStats) { ps.Posts += v.Value })
		}
		for pl, v := range st.Breakdowns.Impressions.Platforms {
			update(pl, func(ps *platformStats) { ps.Impressions += v.Value })
		}
		for pl, v := range st.Breakdowns.Reach.Platforms {
			update(pl, func(ps *platformStats) { ps.Reach += v.Value })
		}
		for pl, v := range st.Breakdowns.Engagement {
			update(pl, func(ps *platformStats) { ps.Likes += v.Likes; ps.Comments += v.Comments; ps.Shares += v.Shares })
		}
		for pl, v := range st.PlatformTotals.Followers {
			update(pl, func(ps *platformStats) { ps.Followers += v.Total })
			add(out.Series["followers"], pl, v.Series)
		}
		for pl, v := range st.PlatformTotals.Impressions {
			add(out.Series["impressions"], pl, v.Series)
		}
		for pl, v := range st.PlatformTotals.Likes {
			add(out.Series["likes"], pl, v.Series)
		}
		for pl, v := range st.PostPerformance.Posts {
			add(out.Series["posts"], pl, v)
		}
	}
	return out, nil
}

// dayQuery reads the optional from and to days (YYYY-MM-DD); it answers
// 400 and returns false on a malformed one.
func dayQuery(w http.ResponseWriter, r *http.Request) (from, to string, ok bool) {
	q := r.URL.Query()
	from, to = q.Get("from"), q.Get("to")
	for _, d := range [][2]string{{"from", from}, {"to", to}} {
		if _, err := time.Parse(time.DateOnly, d[1]); d[1] != "" && err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", d[0]+": want a day as YYYY-MM-DD, got "+quote(d[1]))
			return "", "", false
		}
	}
	return from, to, true
}
