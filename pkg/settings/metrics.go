package settings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Metric is a statistic a custom value can hold: "totals.<field>" over
// every platform, or "<platform>.<field>" for one, over the statistics
// endpoint's seven days.
type Metric struct {
	Platform string // empty for totals
	Field    string
}

// TotalFields and PlatformFields are the fields a metric may name.
var (
	TotalFields    = []string{"posts", "impressions", "likes", "comments", "followers"}
	PlatformFields = []string{"posts", "impressions", "reach", "likes", "comments", "shares", "followers"}
	// Platforms are those HighLevel's statistics know.
	Platforms = []string{"facebook", "instagram", "linkedin", "google", "pinterest", "youtube", "tiktok"}
)

// ParseMetric parses "totals.impressions" or "instagram.reach".
func ParseMetric(s string) (Metric, error) {
	scope, field, ok := strings.Cut(s, ".")
	switch {
	case !ok:
		return Metric{}, fmt.Errorf("unknown statistic %q (want totals.<%s> or <platform>.<%s>)", s, strings.Join(TotalFields, "|"), strings.Join(PlatformFields, "|"))
	case scope == "totals":
		if !slices.Contains(TotalFields, field) {
			return Metric{}, fmt.Errorf("unknown statistic %q: totals have %s", s, strings.Join(TotalFields, ", "))
		}
		return Metric{Field: field}, nil
	case !slices.Contains(Platforms, scope):
		return Metric{}, fmt.Errorf("unknown statistic %q: unknown platform %q (want totals or one of %s)", s, scope, strings.Join(Platforms, ", "))
	case !slices.Contains(PlatformFields, field):
		return Metric{}, fmt.Errorf("unknown statistic %q: platforms have %s", s, strings.Join(PlatformFields, ", "))
	}
	return Metric{Platform: scope, Field: field}, nil
}

// Value returns the metric summed over the answers of one statistics
// run (one per call of at most 100 profiles).
func (m Metric) Value(answers []ghl.Statistics) float64 {
	var v float64
	for _, a := range answers {
		v += m.value(a)
	}
	return v
}

func (m Metric) value(a ghl.Statistics) float64 {
	if m.Platform == "" {
		switch m.Field {
		case "posts":
			return a.Totals.Posts
		case "impressions":
			return a.Totals.Impressions
		case "likes":
			return a.Totals.Likes
		case "comments":
			return a.Totals.Comments
		case "followers":
			return a.Totals.Followers
		}
		return 0
	}
	p := m.Platform
	switch m.Field {
	case "posts":
		return a.Breakdowns.Posts.Platforms[p].Value
	case "impressions":
		return a.Breakdowns.Impressions.Platforms[p].Value
	case "reach":
		return a.Breakdowns.Reach.Platforms[p].Value
	case "likes":
		return a.Breakdowns.Engagement[p].Likes
	case "comments":
		return a.Breakdowns.Engagement[p].Comments
	case "shares":
		return a.Breakdowns.Engagement[p].Shares
	case "followers":
		return a.PlatformTotals.Followers[p].Total
	}
	return 0
}
