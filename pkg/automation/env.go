package automation

import (
	"fmt"
	"slices"
	"strings"
)

// Trigger names what a workflow fires on.
type Trigger string

// The triggers.
const (
	TagCreated       Trigger = "tag.created"
	TagRenamed       Trigger = "tag.renamed"
	TagDeleted       Trigger = "tag.deleted"
	TagDetailsStored Trigger = "tagdetails.stored"
	StatsSnapshot    Trigger = "stats.snapshot"
	SegmentEntered   Trigger = "segment.entered"
	SegmentLeft      Trigger = "segment.left"
)

// Triggers lists every trigger, in the order the documentation gives.
var Triggers = []Trigger{TagCreated, TagRenamed, TagDeleted, TagDetailsStored, StatsSnapshot, SegmentEntered, SegmentLeft}

func (t Trigger) valid() bool { return slices.Contains(Triggers, t) }

func triggerList() string {
	s := make([]string, len(Triggers))
	for i, t := range Triggers {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// envFor returns the zero environment of trigger t, the type its `when`
// and `valueExpr` expressions are compiled against: a field an expression
// names that the type lacks is refused at compile time.
func envFor(t Trigger) any {
	switch t {
	case TagCreated, TagRenamed, TagDeleted:
		return TagEnv{}
	case TagDetailsStored:
		return TagDetailsEnv{}
	case StatsSnapshot:
		return StatsEnv{}
	case SegmentEntered, SegmentLeft:
		return SegmentEnv{}
	}
	panic(fmt.Sprintf("automation: no environment for trigger %q", t))
}

// TagEnv is the environment of tag.created, tag.renamed and tag.deleted:
//
//	locationId, tagId, tagName, previousName (renamed only), change
//	("created", "renamed", "deleted", or "discovered" for a tag of a
//	location's first catalogue, on tag.created with includeDiscovered)
type TagEnv struct {
	LocationID   string `expr:"locationId" json:"locationId"`
	TagID        string `expr:"tagId" json:"tagId"`
	TagName      string `expr:"tagName" json:"tagName"`
	PreviousName string `expr:"previousName" json:"previousName"`
	Change       string `expr:"change" json:"change"`
}

// TagDetailsEnv is the environment of tagdetails.stored:
//
//	locationId, tagNames (list), tags (list of {tagId, tagName, deleted,
//	createdBy})
type TagDetailsEnv struct {
	LocationID string      `expr:"locationId" json:"locationId"`
	TagNames   []string    `expr:"tagNames" json:"tagNames"`
	Tags       []TagDetail `expr:"tags" json:"tags"`
}

// TagDetail is one tag of a TagDetailsEnv.
type TagDetail struct {
	TagID     string `expr:"tagId" json:"tagId"`
	TagName   string `expr:"tagName" json:"tagName"`
	Deleted   bool   `expr:"deleted" json:"deleted"`
	CreatedBy string `expr:"createdBy" json:"createdBy"`
}

// StatsEnv is the environment of stats.snapshot: the last 7 days'
// statistics HighLevel returned, compared with the 7 days before.
//
//	locationId, day, profileIds
//	totals.{posts, likes, followers, impressions, comments}
//	posts, impressions, reach: {total, change, platforms: {<platform>: {value, change}}}
//	engagement: {<platform>: {likes, comments, shares, change}}
//
// change is the percentage change against the previous period, as
// HighLevel computes it ("impressions.change > 20"). A platform missing
// from a map is nil: write "impressions.platforms.instagram?.change".
type StatsEnv struct {
	LocationID  string                        `expr:"locationId" json:"locationId"`
	Day         string                        `expr:"day" json:"day"`
	ProfileIDs  []string                      `expr:"profileIds" json:"profileIds"`
	Totals      StatTotals                    `expr:"totals" json:"totals"`
	Posts       Breakdown                     `expr:"posts" json:"posts"`
	Impressions Breakdown                     `expr:"impressions" json:"impressions"`
	Reach       Breakdown                     `expr:"reach" json:"reach"`
	Engagement  map[string]PlatformEngagement `expr:"engagement" json:"engagement"`
}

// StatTotals are the totals over all platforms.
type StatTotals struct {
	Posts       float64 `expr:"posts" json:"posts"`
	Likes       float64 `expr:"likes" json:"likes"`
	Followers   float64 `expr:"followers" json:"followers"`
	Impressions float64 `expr:"impressions" json:"impressions"`
	Comments    float64 `expr:"comments" json:"comments"`
}

// Breakdown is one metric's total, its change in percent and its values
// per platform.
type Breakdown struct {
	Total     float64                  `expr:"total" json:"total"`
	Change    float64                  `expr:"change" json:"totalChange"`
	Platforms map[string]PlatformValue `expr:"platforms" json:"platforms"`
}

// PlatformValue is one platform's value and change in percent.
type PlatformValue struct {
	Value  float64 `expr:"value" json:"value"`
	Change float64 `expr:"change" json:"change"`
}

// PlatformEngagement is one platform's engagement.
type PlatformEngagement struct {
	Likes    float64 `expr:"likes" json:"likes"`
	Comments float64 `expr:"comments" json:"comments"`
	Shares   float64 `expr:"shares" json:"shares"`
	Change   float64 `expr:"change" json:"change"`
}

// SegmentEnv is the environment of segment.entered and segment.left:
//
//	locationId, contactId, segment, change ("entered", "left")
type SegmentEnv struct {
	LocationID string `expr:"locationId" json:"locationId"`
	ContactID  string `expr:"contactId" json:"contactId"`
	Segment    string `expr:"segment" json:"segment"`
	Change     string `expr:"change" json:"change"`
}
