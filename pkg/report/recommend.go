package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// The least data a recommendation is made from. Below them a
// recommendation says what is missing instead of guessing.
const (
	// MinCadenceDays is the days of statistics a platform's cadence
	// needs: two weeks, so that every weekday is seen twice.
	MinCadenceDays = 14
	// MinCadencePosts is the posts a platform's cadence needs.
	MinCadencePosts = 8
	// MinWeekdayDays is how often a weekday must have been seen, with at
	// least one post, to be ranked.
	MinWeekdayDays = 2
	// MinRankedWeekdays is how many weekdays must be rankable to name the
	// best ones.
	MinRankedWeekdays = 3
	// BestWeekdaysCount is how many best weekdays are named.
	BestWeekdaysCount = 2
	// MinAudienceFollowers is the followers an audience needs.
	MinAudienceFollowers = 100
)

// Status values of a recommendation.
const (
	StatusOK            = "ok"
	StatusNotEnoughData = "not enough data"
)

// Recommendations are what the history suggests: when and where to post,
// and to whom.
type Recommendations struct {
	From    string    `json:"from"`
	To      string    `json:"to"`
	Cadence []Cadence `json:"cadence"`
	// BestPlatforms ranks the platforms with enough data by impressions
	// per post, then likes per post.
	BestPlatforms []string   `json:"bestPlatforms"`
	Audience      []Audience `json:"audience"`
}

// Cadence is one platform's posting cadence recommendation and the
// figures it came from.
type Cadence struct {
	Platform string   `json:"platform"`
	Status   string   `json:"status"`
	Missing  []string `json:"missing,omitempty"`
	// Days of statistics and the period's totals.
	Days               int     `json:"days"`
	Posts              float64 `json:"posts"`
	Impressions        float64 `json:"impressions"`
	Likes              float64 `json:"likes"`
	ImpressionsPerPost float64 `json:"impressionsPerPost"`
	LikesPerPost       float64 `json:"likesPerPost"`
	PostsPerWeek       float64 `json:"postsPerWeek"`
	// TrendPercent compares impressions per post in the second half of
	// the period with the first half.
	TrendPercent *float64 `json:"trendPercent"`
	// SuggestedPostsPerWeek is the current weekly volume, one more when
	// impressions per post held up (trend ≥ -10 %), one less when they
	// fell by more than 20 %; at least one.
	SuggestedPostsPerWeek int              `json:"suggestedPostsPerWeek"`
	BestWeekdays          []string         `json:"bestWeekdays"`
	Weekdays              []WeekdayFigures `json:"weekdays"`
}

// WeekdayFigures are one weekday's totals over the period.
type WeekdayFigures struct {
	Weekday            string  `json:"weekday"`
	Days               int     `json:"days"`
	Posts              float64 `json:"posts"`
	Impressions        float64 `json:"impressions"`
	Likes              float64 `json:"likes"`
	ImpressionsPerPost float64 `json:"impressionsPerPost"`
	LikesPerPost       float64 `json:"likesPerPost"`
}

// Audience is one platform's dominant demographics and the shares they
// came from.
type Audience struct {
	Platform  string   `json:"platform"`
	Status    string   `json:"status"`
	Missing   []string `json:"missing,omitempty"`
	TakenOn   string   `json:"takenOn,omitempty"`
	Followers float64  `json:"followers"`
	// Gender and AgeBand are the largest groups, with their shares in
	// percent of the followers.
	Gender      string  `json:"gender,omitempty"`
	GenderShare float64 `json:"genderShare"`
	AgeBand     string  `json:"ageBand,omitempty"`
	AgeShare    float64 `json:"ageShare"`
	// Genders and Ages are every group's follower count.
	Genders map[string]float64 `json:"genders"`
	Ages    map[string]float64 `json:"ages"`
}

// Recommend derives the recommendations for from … to from the history.
// Bad days give empty recommendations.
func Recommend(snaps []Snapshot, from, to string) Recommendations {
	out := Recommendations{From: from, To: to, Cadence: []Cadence{}, BestPlatforms: []string{}, Audience: []Audience{}}
	days, err := Days(from, to)
	if err != nil {
		return out
	}
	daily := Daily(snaps)
	var covered []DayFigures
	platforms := map[string]bool{}
	for _, d := range days {
		if f, ok := daily[d]; ok {
			covered = append(covered, f)
			for p := range f.Platforms {
				platforms[p] = true
			}
		}
	}
	for _, p := range sortedKeys(platforms) {
		out.Cadence = append(out.Cadence, cadence(p, covered))
	}
	ranked := slices.Clone(out.Cadence)
	slices.SortStableFunc(ranked, func(a, b Cadence) int {
		return cmp.Or(cmp.Compare(b.ImpressionsPerPost, a.ImpressionsPerPost), cmp.Compare(b.LikesPerPost, a.LikesPerPost))
	})
	for _, c := range ranked {
		if c.Status == StatusOK {
			out.BestPlatforms = append(out.BestPlatforms, c.Platform)
		}
	}
	out.Audience = audience(snaps, from, to, sortedKeys(platforms))
	return out
}

func cadence(platform string, covered []DayFigures) Cadence {
	c := Cadence{Platform: platform, BestWeekdays: []string{}, Weekdays: []WeekdayFigures{}}
	week := map[time.Weekday]*WeekdayFigures{}
	var firstIPP, secondIPP [2]float64 // impressions, posts of each half
	var seen []DayFigures
	for _, f := range covered {
		if _, ok := f.Platforms[platform]; ok {
			seen = append(seen, f)
		}
	}
	for i, f := range seen {
		v := f.Platforms[platform]
		c.Days++
		c.Posts += v.Posts
		c.Impressions += v.Impressions
		c.Likes += v.Likes
		half := &firstIPP
		if i >= len(seen)/2 {
			half = &secondIPP
		}
		half[0] += v.Impressions
		half[1] += v.Posts
		d, _ := ParseDay(f.Day)
		w := week[d.Weekday()]
		if w == nil {
			w = &WeekdayFigures{Weekday: d.Weekday().String()}
			week[d.Weekday()] = w
		}
		w.Days++
		w.Posts += v.Posts
		w.Impressions += v.Impressions
		w.Likes += v.Likes
	}
	c.ImpressionsPerPost = ratio(c.Impressions, c.Posts)
	c.LikesPerPost = ratio(c.Likes, c.Posts)
	if c.Days > 0 {
		c.PostsPerWeek = round2(c.Posts / float64(c.Days) * 7)
	}
	var rankable []WeekdayFigures
	for wd := time.Sunday; wd <= time.Saturday; wd++ {
		w := week[wd]
		if w == nil {
			continue
		}
		w.ImpressionsPerPost = ratio(w.Impressions, w.Posts)
		w.LikesPerPost = ratio(w.Likes, w.Posts)
		c.Weekdays = append(c.Weekdays, *w)
		if w.Days >= MinWeekdayDays && w.Posts > 0 {
			rankable = append(rankable, *w)
		}
	}
	if c.Days < MinCadenceDays {
		c.Missing = append(c.Missing, fmt.Sprintf("%d days of statistics, have %d", MinCadenceDays, c.Days))
	}
	if c.Posts < MinCadencePosts {
		c.Missing = append(c.Missing, fmt.Sprintf("%d posts, have %g", MinCadencePosts, c.Posts))
	}
	if len(rankable) < MinRankedWeekdays {
		c.Missing = append(c.Missing, fmt.Sprintf("%d weekdays seen %d times with posts, have %d", MinRankedWeekdays, MinWeekdayDays, len(rankable)))
	}
	if len(c.Missing) > 0 {
		c.Status = StatusNotEnoughData
		return c
	}
	c.Status = StatusOK
	slices.SortStableFunc(rankable, func(a, b WeekdayFigures) int {
		return cmp.Or(cmp.Compare(b.ImpressionsPerPost, a.ImpressionsPerPost), cmp.Compare(b.LikesPerPost, a.LikesPerPost))
	})
	for _, w := range rankable[:min(BestWeekdaysCount, len(rankable))] {
		c.BestWeekdays = append(c.BestWeekdays, w.Weekday)
	}
	suggested := int(math.Round(c.PostsPerWeek))
	if firstIPP[1] > 0 && secondIPP[1] > 0 {
		a, b := firstIPP[0]/firstIPP[1], secondIPP[0]/secondIPP[1]
		if a > 0 {
			t := round2((b - a) / a * 100)
			c.TrendPercent = &t
			switch {
			case t >= -10:
				suggested++
			case t < -20:
				suggested--
			}
		}
	}
	c.SuggestedPostsPerWeek = max(1, suggested)
	return c
}

// audience reads the demographics of the latest snapshot taken in
// from+1 … to+1 (whose window ends in the range).
func audience(snaps []Snapshot, from, to string, platforms []string) []Audience {
	var best *Snapshot
	for i := range snaps {
		s := &snaps[i]
		_, wt, err := s.Covers()
		if err != nil || wt < from || wt > to {
			continue
		}
		if best == nil || s.Day > best.Day || s.Day == best.Day && s.TakenAt.After(best.TakenAt) {
			best = s
		}
	}
	out := []Audience{}
	for _, p := range platforms {
		a := Audience{Platform: p, Genders: map[string]float64{}, Ages: map[string]float64{}}
		var demo []ghl.Demographics
		switch {
		case best == nil:
		case len(best.Audience) > 0:
			demo = best.Audience[p]
		case len(platforms) == 1:
			for _, ans := range best.Answers {
				demo = append(demo, ans.Demographics)
			}
		}
		if best != nil {
			a.TakenOn = best.Day
		}
		for _, d := range demo {
			for g, s := range d.Gender.Totals {
				a.Genders[g] += s.Total
			}
			for b, n := range d.Age.Totals {
				a.Ages[b] += n
			}
		}
		for _, n := range a.Genders {
			a.Followers += n
		}
		switch {
		case best == nil:
			a.Missing = []string{"a statistics snapshot whose window ends in the range"}
		case len(demo) == 0:
			a.Missing = []string{"demographics of the platform's accounts alone"}
		case a.Followers < MinAudienceFollowers:
			a.Missing = []string{fmt.Sprintf("%d followers with demographics, have %g", MinAudienceFollowers, a.Followers)}
		}
		if len(a.Missing) > 0 {
			a.Status = StatusNotEnoughData
			out = append(out, a)
			continue
		}
		a.Status = StatusOK
		a.Gender, a.GenderShare = largest(a.Genders, a.Followers, "unknown")
		var ages float64
		for _, n := range a.Ages {
			ages += n
		}
		a.AgeBand, a.AgeShare = largest(a.Ages, ages, "")
		out = append(out, a)
	}
	return out
}

// largest returns the key with the largest count (skip excluded) and its
// share of total in percent.
func largest(m map[string]float64, total float64, skip string) (string, float64) {
	best, n := "", -1.0
	for _, k := range sortedKeys(m) {
		if k != skip && m[k] > n {
			best, n = k, m[k]
		}
	}
	if best == "" || total <= 0 {
		return "", 0
	}
	return best, round2(n / total * 100)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return round2(a / b)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
