package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// ErrInvalidInput is a report request that cannot be built: a bad day or
// range.
var ErrInvalidInput = errors.New("invalid report input")

// MaxDays bounds every day range: a report's, an export's, a history
// read's (see DayCount).
const MaxDays = 3660

// Input is what a report is built from.
type Input struct {
	Location string
	// From and To are the first and last location-local day, included.
	From, To string
	// Snapshots are the stored history; those outside the range and the
	// period before it are ignored.
	Snapshots []Snapshot
	// Tags are the location's social tags with their posts.
	Tags []Tag
	// GeneratedAt is when the report is built.
	GeneratedAt time.Time
}

// Report is one location's statistics and tag activity over a day range,
// compared with the period of the same length just before it.
type Report struct {
	Location    string    `json:"location"`
	From        string    `json:"from"`
	To          string    `json:"to"`
	GeneratedAt time.Time `json:"generatedAt"`
	// Days is the range's length; MissingDays the days no snapshot covers.
	Days        int      `json:"days"`
	MissingDays []string `json:"missingDays"`
	// PreviousFrom and PreviousTo are the period changes compare with.
	PreviousFrom string `json:"previousFrom"`
	PreviousTo   string `json:"previousTo"`
	// Platforms are the per-platform totals over the range, summed from
	// the daily series.
	Platforms []PlatformTotals `json:"platforms"`
	// Total is over all platforms.
	Total PlatformTotals `json:"total"`
	// Statistics are the per-platform totals exactly as the statistics
	// endpoint returned them, in the latest snapshot whose window ends in
	// the range; nil when there is none.
	Statistics *EndpointStatistics `json:"statistics"`
	// Series is the trend: one point per day of the range.
	Series []DayFigures `json:"series"`
	// Tags, TopTags and FadingTags describe the tags' activity.
	Tags       []TagRow `json:"tags"`
	TopTags    []TagRow `json:"topTags"`
	FadingTags []TagRow `json:"fadingTags"`
	// Recommendations follow from the same history.
	Recommendations Recommendations `json:"recommendations"`
}

// PlatformTotals are one platform's totals over a range and their change
// against the previous period, in percent (nil when the previous period
// is not fully covered, or was zero).
type PlatformTotals struct {
	Platform    string  `json:"platform"`
	DaysCovered int     `json:"daysCovered"`
	Posts       float64 `json:"posts"`
	Impressions float64 `json:"impressions"`
	Likes       float64 `json:"likes"`
	// Followers are those of the range's last covered day.
	Followers         float64  `json:"followers"`
	PostsChange       *float64 `json:"postsChange"`
	ImpressionsChange *float64 `json:"impressionsChange"`
	LikesChange       *float64 `json:"likesChange"`
	FollowersChange   *float64 `json:"followersChange"`
}

// EndpointStatistics are the totals of one snapshot as the endpoint
// returned them, one answer per call.
type EndpointStatistics struct {
	TakenOn    string           `json:"takenOn"`
	WindowFrom string           `json:"windowFrom"`
	WindowTo   string           `json:"windowTo"`
	Answers    []EndpointAnswer `json:"answers"`
}

// EndpointAnswer is one call's totals, untouched.
type EndpointAnswer struct {
	Totals         ghl.StatTotals     `json:"totals"`
	Breakdowns     ghl.Breakdowns     `json:"breakdowns"`
	PlatformTotals ghl.PlatformTotals `json:"platformTotals"`
}

// Build builds the report of in.
func Build(in Input) (Report, error) {
	days, err := Days(in.From, in.To)
	if err != nil {
		return Report{}, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	prevFrom, _ := Shift(in.From, -len(days))
	prevTo, _ := Shift(in.From, -1)
	prevDays, _ := Days(prevFrom, prevTo)
	daily := Daily(in.Snapshots)

	r := Report{
		Location: in.Location, From: in.From, To: in.To, GeneratedAt: in.GeneratedAt.UTC(),
		Days: len(days), MissingDays: []string{}, PreviousFrom: prevFrom, PreviousTo: prevTo,
		Platforms: []PlatformTotals{}, Series: []DayFigures{},
	}
	for _, d := range days {
		f, ok := daily[d]
		if !ok {
			r.MissingDays = append(r.MissingDays, d)
			continue
		}
		r.Series = append(r.Series, f)
	}
	cur := totals(daily, days)
	prev := totals(daily, prevDays)
	for _, p := range sortedKeys(cur) {
		r.Platforms = append(r.Platforms, compareTotals(p, cur[p], prev[p], len(prevDays)))
	}
	r.Total = compareTotals("all", sum(cur), sum(prev), len(prevDays))
	r.Statistics = endpoint(in.Snapshots, in.From, in.To)
	r.Tags, r.TopTags, r.FadingTags = tagRows(in.Tags, days, prevDays)
	r.Recommendations = Recommend(in.Snapshots, in.From, in.To)
	return r, nil
}

// periodTotals are one platform's figures summed over a period.
type periodTotals struct {
	covered   int
	v         Values
	followers float64 // of the last covered day
}

func totals(daily map[string]DayFigures, days []string) map[string]periodTotals {
	out := map[string]periodTotals{}
	for _, d := range days {
		f, ok := daily[d]
		if !ok {
			continue
		}
		for p, v := range f.Platforms {
			t := out[p]
			t.covered++
			t.v = t.v.plus(Values{Posts: v.Posts, Impressions: v.Impressions, Likes: v.Likes})
			t.followers = v.Followers
			out[p] = t
		}
	}
	return out
}

func sum(in map[string]periodTotals) periodTotals {
	var t periodTotals
	for _, p := range in {
		t.covered = max(t.covered, p.covered)
		t.v = t.v.plus(p.v)
		t.followers += p.followers
	}
	return t
}

func compareTotals(platform string, cur, prev periodTotals, prevLen int) PlatformTotals {
	out := PlatformTotals{
		Platform: platform, DaysCovered: cur.covered,
		Posts: cur.v.Posts, Impressions: cur.v.Impressions, Likes: cur.v.Likes, Followers: cur.followers,
	}
	if prev.covered == prevLen && prevLen > 0 {
		out.PostsChange = change(cur.v.Posts, prev.v.Posts)
		out.ImpressionsChange = change(cur.v.Impressions, prev.v.Impressions)
		out.LikesChange = change(cur.v.Likes, prev.v.Likes)
		out.FollowersChange = change(cur.followers, prev.followers)
	}
	return out
}

// change is the percentage change from prev to cur, to two decimals; nil
// when prev is zero.
func change(cur, prev float64) *float64 {
	if prev == 0 {
		return nil
	}
	v := math.Round((cur-prev)/prev*10000) / 100
	return &v
}

// endpoint returns the latest snapshot's totals whose window ends in
// from … to.
func endpoint(snaps []Snapshot, from, to string) *EndpointStatistics {
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
	if best == nil {
		return nil
	}
	wf, wt, _ := best.Covers()
	out := &EndpointStatistics{TakenOn: best.Day, WindowFrom: wf, WindowTo: wt, Answers: []EndpointAnswer{}}
	for _, a := range best.Answers {
		out.Answers = append(out.Answers, EndpointAnswer{Totals: a.Totals, Breakdowns: a.Breakdowns, PlatformTotals: a.PlatformTotals})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
