package report

import (
	"cmp"
	"slices"
	"time"
)

// TopTagsCount is how many tags TopTags and FadingTags list at most.
const TopTagsCount = 5

// Tag is a social tag with the posts that carry it.
type Tag struct {
	ID      string
	Name    string
	Deleted bool
	Posts   []Post
}

// Post is a post carrying a tag: when it was last seen (its event's time,
// in the location's day) and the contacts it is linked to.
type Post struct {
	ID       string
	Day      string
	Contacts []string
}

// PostDay returns the location-local day of t.
func PostDay(t time.Time, tz *time.Location) string {
	if tz == nil {
		tz = time.UTC
	}
	return FormatDay(t.In(tz))
}

// TagRow is one tag's activity over a range: the posts carrying it whose
// day falls in the range, the distinct contacts those posts reached, and
// the posts of the previous period.
type TagRow struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Deleted       bool     `json:"deleted,omitempty"`
	Posts         int      `json:"posts"`
	Contacts      int      `json:"contacts"`
	PreviousPosts int      `json:"previousPosts"`
	PostsChange   *float64 `json:"postsChange"`
}

// tagRows returns every tag's row (most posts first), the top tags (most
// posts in the range, then most contacts) and the fading ones (fewer
// posts than in the previous period, largest drop first).
func tagRows(tags []Tag, days, prevDays []string) (all, top, fading []TagRow) {
	in := func(list []string, d string) bool {
		return len(list) > 0 && d >= list[0] && d <= list[len(list)-1]
	}
	all = []TagRow{}
	for _, t := range tags {
		row := TagRow{ID: t.ID, Name: t.Name, Deleted: t.Deleted}
		contacts := map[string]bool{}
		for _, p := range t.Posts {
			switch {
			case in(days, p.Day):
				row.Posts++
				for _, c := range p.Contacts {
					contacts[c] = true
				}
			case in(prevDays, p.Day):
				row.PreviousPosts++
			}
		}
		row.Contacts = len(contacts)
		row.PostsChange = change(float64(row.Posts), float64(row.PreviousPosts))
		all = append(all, row)
	}
	slices.SortStableFunc(all, func(a, b TagRow) int {
		return cmp.Or(cmp.Compare(b.Posts, a.Posts), cmp.Compare(b.Contacts, a.Contacts), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	top, fading = []TagRow{}, []TagRow{}
	for _, r := range all {
		if r.Posts > 0 && len(top) < TopTagsCount {
			top = append(top, r)
		}
		if r.Posts < r.PreviousPosts {
			fading = append(fading, r)
		}
	}
	slices.SortStableFunc(fading, func(a, b TagRow) int {
		return cmp.Or(cmp.Compare(b.PreviousPosts-b.Posts, a.PreviousPosts-a.Posts), cmp.Compare(a.Name, b.Name))
	})
	if len(fading) > TopTagsCount {
		fading = fading[:TopTagsCount]
	}
	return all, top, fading
}
