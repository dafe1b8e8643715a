package ghlsim

import (
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// maxStatisticsProfiles is the most profile ids one statistics call takes.
const maxStatisticsProfiles = 100

// statistics answers POST /social-media-posting/statistics?locationId= with
// 201 and no success envelope. The numbers are made up but plausible and
// deterministic: each profile's daily metrics are a pure function of the
// location, the profile and the calendar day in the location's time zone,
// so the same request on the same day gives the same answer, and windows
// asked on different days agree on the days they share.
func (s *Simulator) statistics(w http.ResponseWriter, r *http.Request, c *call) {
	locationID := r.URL.Query().Get("locationId")
	if locationID == "" {
		writeUnprocessable(w, "locationId should not be empty")
		return
	}
	if !c.allows(w, locationID) {
		return
	}
	var body struct {
		ProfileIDs *[]string `json:"profileIds"`
		Platforms  []string  `json:"platforms"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	if body.ProfileIDs == nil {
		writeUnprocessable(w, "profileIds must be an array", "profileIds must contain at least 1 elements")
		return
	}
	if len(*body.ProfileIDs) == 0 {
		writeUnprocessable(w, "profileIds must contain at least 1 elements")
		return
	}
	if len(*body.ProfileIDs) > maxStatisticsProfiles {
		writeBadRequest(w, "profileIds must contain no more than 100 elements")
		return
	}
	for _, p := range body.Platforms {
		if !isPlatform(p) {
			writeBadRequest(w, "each value in platforms must be one of the following values: "+strings.Join(platforms(), ", "))
			return
		}
	}

	l := c.loc
	var selected []ghl.Account
	l.mu.RLock()
	for _, id := range *body.ProfileIDs {
		a, ok := l.accountByProfile(id)
		if ok && (len(body.Platforms) == 0 || slices.Contains(body.Platforms, a.Platform)) &&
			!slices.ContainsFunc(selected, func(b ghl.Account) bool { return b.ProfileID == a.ProfileID }) {
			selected = append(selected, a)
		}
	}
	plans := l.statsPlans
	l.mu.RUnlock()

	writeJSON(w, http.StatusCreated, ghl.StatisticsResponse{
		Results: buildStatistics(l.id, l.tz, selected, s.now(), plans),
		Message: "Analytics Built Successfully",
		TraceID: newTraceID(),
	})
}

// dayMetrics are one profile's numbers for one day.
type dayMetrics struct {
	posts, impressions, reach, likes, comments, shares, followers float64
}

// metricsFor returns the metrics of a profile on a day (days since the Unix
// epoch, in the location's calendar).
func metricsFor(locationID string, a ghl.Account, day int64) dayMetrics {
	base := fnv64(locationID, a.ProfileID)
	scale := platformScale(a.Platform)
	followers0 := scale * (0.2 + unit(base, 1)*1.8)
	growth := followers0 * (0.0005 + unit(base, 2)*0.003)
	epochDay := seedEpoch().Unix() / 86400
	h := mix(base ^ uint64(day)*0x9e3779b97f4a7c15)

	// Cadence depends on the weekday, so recommendations have something
	// to find: each profile has two favourite weekdays.
	weekday := (day + 4) % 7 // 1970-01-01 was a Thursday
	cadence := 0.3 + unit(base, 3)*0.9
	if weekday == int64(base%7) || weekday == int64((base>>8)%7) {
		cadence *= 2.2
	}
	var m dayMetrics
	m.posts = math.Floor(cadence*unit(h, 4)*2.5 + 0.3)
	m.followers = math.Round(followers0 + growth*float64(day-epochDay) + followers0*0.01*(unit(h, 5)-0.5))
	m.impressions = math.Round(m.followers * (0.01 + 0.02*unit(h, 6) + m.posts*(0.05+0.2*unit(h, 7))))
	m.reach = math.Round(m.impressions * (0.55 + 0.35*unit(h, 8)))
	m.likes = math.Round(m.impressions * (0.01 + 0.05*unit(h, 9)))
	m.comments = math.Round(m.likes * (0.05 + 0.15*unit(h, 10)))
	m.shares = math.Round(m.likes * (0.02 + 0.08*unit(h, 11)))
	return m
}

// platformScale is a platform's typical follower count.
func platformScale(p string) float64 {
	switch p {
	case "facebook":
		return 6000
	case "instagram":
		return 12000
	case "linkedin":
		return 1500
	case "google":
		return 300
	case "pinterest":
		return 2500
	case "youtube":
		return 8000
	case "tiktok":
		return 20000
	}
	return 1000
}

// buildStatistics computes the statistics of accounts for the 7 days
// before today (in tz), compared with the 7 days before those.
// A platform with a plan takes its figures from the plan.
func buildStatistics(locationID string, tz *time.Location, accounts []ghl.Account, now time.Time, plans map[string]statsPlan) ghl.Statistics {
	local := now.In(tz)
	y, mo, d := local.Date()
	today := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Unix() / 86400

	st := ghl.Statistics{
		DayRange: make([]string, 7),
		PostPerformance: ghl.PostPerformance{
			Posts:       map[string][]float64{},
			Impressions: make([]float64, 7),
			Likes:       make([]float64, 7),
			Comments:    make([]float64, 7),
		},
		Breakdowns: ghl.Breakdowns{
			Posts:       ghl.MetricBreakdown{Platforms: map[string]ghl.ValueWithChange{}},
			Impressions: ghl.MetricBreakdown{Platforms: map[string]ghl.ValueWithChange{}},
			Reach:       ghl.MetricBreakdown{Platforms: map[string]ghl.ValueWithChange{}},
			Engagement:  map[string]ghl.PlatformEngagement{},
		},
		PlatformTotals: ghl.PlatformTotals{
			Impressions: map[string]ghl.SeriesTotal{},
			Followers:   map[string]ghl.SeriesTotal{},
			Likes:       map[string]ghl.SeriesTotal{},
		},
	}
	for i := range 7 {
		day := today - 7 + int64(i)
		st.DayRange[i] = time.Unix(day*86400, 0).UTC().Weekday().String()[:3]
	}

	type sums struct {
		posts, impressions, reach, likes, comments, shares float64
	}
	type platformAgg struct {
		cur, prev                                  sums
		postSeries, imprSeries, likeSeries, follow []float64
	}
	aggs := map[string]*platformAgg{}
	var totalCur, totalPrev sums
	for _, a := range accounts {
		agg := aggs[a.Platform]
		if agg == nil {
			agg = &platformAgg{
				postSeries: make([]float64, 7), imprSeries: make([]float64, 7),
				likeSeries: make([]float64, 7), follow: make([]float64, 7),
			}
			aggs[a.Platform] = agg
		}
		for i := range 14 {
			day := today - 14 + int64(i)
			m := metricsFor(locationID, a, day)
			if plan, ok := plans[a.Platform]; ok {
				m = plan.apply(m, day)
			}
			add := func(s *sums) {
				s.posts += m.posts
				s.impressions += m.impressions
				s.reach += m.reach
				s.likes += m.likes
				s.comments += m.comments
				s.shares += m.shares
			}
			if i < 7 {
				add(&agg.prev)
				add(&totalPrev)
				continue
			}
			add(&agg.cur)
			add(&totalCur)
			j := i - 7
			agg.postSeries[j] += m.posts
			agg.imprSeries[j] += m.impressions
			agg.likeSeries[j] += m.likes
			agg.follow[j] += m.followers
			st.PostPerformance.Impressions[j] += m.impressions
			st.PostPerformance.Likes[j] += m.likes
			st.PostPerformance.Comments[j] += m.comments
		}
	}

	var followers float64
	for p, agg := range aggs {
		followers += agg.follow[6]
		st.PostPerformance.Posts[p] = agg.postSeries
		st.Breakdowns.Posts.Platforms[p] = ghl.ValueWithChange{Value: agg.cur.posts, Change: change(agg.cur.posts, agg.prev.posts)}
		st.Breakdowns.Impressions.Platforms[p] = ghl.ValueWithChange{Value: agg.cur.impressions, Change: change(agg.cur.impressions, agg.prev.impressions)}
		st.Breakdowns.Reach.Platforms[p] = ghl.ValueWithChange{Value: agg.cur.reach, Change: change(agg.cur.reach, agg.prev.reach)}
		st.Breakdowns.Engagement[p] = ghl.PlatformEngagement{
			Likes: agg.cur.likes, Comments: agg.cur.comments, Shares: agg.cur.shares,
			Change: change(agg.cur.likes+agg.cur.comments+agg.cur.shares, agg.prev.likes+agg.prev.comments+agg.prev.shares),
		}
		st.PlatformTotals.Impressions[p] = ghl.SeriesTotal{Total: agg.cur.impressions, Series: agg.imprSeries}
		st.PlatformTotals.Followers[p] = ghl.SeriesTotal{Total: agg.follow[6], Series: agg.follow}
		st.PlatformTotals.Likes[p] = ghl.SeriesTotal{Total: agg.cur.likes, Series: agg.likeSeries}
	}
	st.Totals = ghl.StatTotals{
		Posts: totalCur.posts, Likes: totalCur.likes, Followers: followers,
		Impressions: totalCur.impressions, Comments: totalCur.comments,
	}
	st.Breakdowns.Posts.Total, st.Breakdowns.Posts.TotalChange = totalCur.posts, change(totalCur.posts, totalPrev.posts)
	st.Breakdowns.Impressions.Total, st.Breakdowns.Impressions.TotalChange = totalCur.impressions, change(totalCur.impressions, totalPrev.impressions)
	st.Breakdowns.Reach.Total, st.Breakdowns.Reach.TotalChange = totalCur.reach, change(totalCur.reach, totalPrev.reach)
	st.Demographics = demographics(locationID, accounts, followers)
	return st
}

// change is the percentage change from prev to cur, to two decimals.
func change(cur, prev float64) float64 {
	if prev == 0 {
		if cur == 0 {
			return 0
		}
		return 100
	}
	return round2((cur - prev) / prev * 100)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// demographics splits followers by gender and age band, with shares
// derived from the location and the set of profiles.
func demographics(locationID string, accounts []ghl.Account, followers float64) ghl.Demographics {
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ProfileID
	}
	slices.Sort(ids)
	h := fnv64(locationID, strings.Join(ids, ","))

	female := round2(38 + unit(h, 1)*14)
	male := round2(38 + unit(h, 2)*14)
	unknown := round2(100 - female - male)
	g := ghl.GenderDemographics{Totals: map[string]ghl.Share{"male": {}, "female": {}, "unknown": {}}}
	if followers > 0 {
		f, m := math.Round(followers*female/100), math.Round(followers*male/100)
		g.Totals = map[string]ghl.Share{
			"female":  {Total: f, Percentage: female},
			"male":    {Total: m, Percentage: male},
			"unknown": {Total: followers - f - m, Percentage: unknown},
		}
	}

	bands := []string{"13-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
	weights := []float64{0.3, 2.5, 3.5, 2.6, 1.6, 0.9, 0.5}
	var sum float64
	for i := range weights {
		weights[i] *= 0.6 + unit(h, uint64(10+i))*0.8
		sum += weights[i]
	}
	age := ghl.AgeDemographics{Totals: map[string]float64{}}
	var assigned float64
	for i, b := range bands {
		v := math.Floor(followers * weights[i] / sum)
		age.Totals[b] = v
		assigned += v
	}
	age.Totals["25-34"] += followers - assigned // rounding goes to the largest band
	return ghl.Demographics{Gender: g, Age: age}
}

// fnv64 hashes parts, separated, with FNV-1a.
func fnv64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return mix(h.Sum64())
}

// mix is the SplitMix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unit derives a number in [0, 1) from h and a salt.
func unit(h, salt uint64) float64 {
	return float64(mix(h+salt*0x9e3779b97f4a7c15)>>11) / (1 << 53)
}
