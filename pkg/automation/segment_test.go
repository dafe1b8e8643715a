package automation

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSegmentMatches(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return now.Add(-time.Duration(n) * 24 * time.Hour) }
	tests := []struct {
		name string
		seg  Segment
		f    Facts
		want bool
	}{
		{"all tags", Segment{AllTags: []string{"social:promo", "social:sale"}}, Facts{Known: true, Tags: []string{"social:sale", "Social:Promo"}}, true},
		{"all tags, one missing", Segment{AllTags: []string{"social:promo", "social:sale"}}, Facts{Known: true, Tags: []string{"social:promo"}}, false},
		{"any tag", Segment{AnyTags: []string{"social:a", "social:b"}}, Facts{Known: true, Tags: []string{"social:b"}}, true},
		{"any tag, none", Segment{AnyTags: []string{"social:a"}}, Facts{Known: true, Tags: []string{"social:b"}}, false},
		{"none tags", Segment{NoneTags: []string{"social:a"}}, Facts{Known: true, Tags: []string{"social:b"}}, true},
		{"none tags, has one", Segment{NoneTags: []string{"social:a"}}, Facts{Known: true, Tags: []string{"social:a"}}, false},
		{"unknown contact", Segment{NoneTags: []string{"social:a"}}, Facts{}, false},
		{"posted within", Segment{PostedWithinDays: 7}, Facts{Known: true, Posts: []time.Time{day(30), day(3)}}, true},
		{"not posted within", Segment{PostedWithinDays: 7}, Facts{Known: true, Posts: []time.Time{day(30)}}, false},
		{"min posts", Segment{PostedWithinDays: 7, MinPosts: 2}, Facts{Known: true, Posts: []time.Time{day(1), day(30)}}, false},
		{"min posts met", Segment{PostedWithinDays: 7, MinPosts: 2}, Facts{Known: true, Posts: []time.Time{day(1), day(2)}}, true},
		{"lapsed", Segment{NotPostedWithinDays: 60}, Facts{Known: true, Posts: []time.Time{day(90)}}, true},
		{"not lapsed", Segment{NotPostedWithinDays: 60}, Facts{Known: true, Posts: []time.Time{day(90), day(10)}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.seg.Name = "s"
			seg, err := tt.seg.Validate()
			if err != nil {
				t.Fatal(err)
			}
			if got := seg.Matches(tt.f, now); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMembership(t *testing.T) {
	defs := []Segment{
		{Name: "fans", AllTags: []string{"social:promo"}},
		{Name: "elsewhere", AllTags: []string{"social:promo"}, Locations: []string{"Other"}},
	}
	f := Facts{Known: true, Tags: []string{"social:promo"}}
	got := Membership(defs, map[string]bool{"broken": true}, "Loc", []string{"broken", "gone"}, f, time.Now())
	if d := cmp.Diff([]string{"broken", "fans"}, got); d != "" {
		t.Errorf("Membership (-want +got):\n%s", d)
	}
	entered, left := MembershipDiff([]string{"broken", "gone"}, got)
	if d := cmp.Diff([]string{"fans"}, entered); d != "" {
		t.Errorf("entered: %s", d)
	}
	if d := cmp.Diff([]string{"gone"}, left); d != "" {
		t.Errorf("left: %s", d)
	}
}
