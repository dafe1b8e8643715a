package automation

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// SegmentTagPrefix starts the contact tag of every segment:
// "segment:<name>".
const SegmentTagPrefix = "segment:"

// maxDays bounds the day windows of a rule (ten years).
const maxDays = 3650

// Segment is a segment definition: a name and a rule over a contact's
// social contact tags and the posts that gave them. A contact is a member
// when it is known to socialsync (linked to at least one post) and every
// condition that is set holds.
type Segment struct {
	// Name names the segment; members carry the contact tag
	// "segment:<name>".
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Locations limits the segment to these locations; none: every
	// location.
	Locations []string `yaml:"locations,omitempty" json:"locations,omitempty"`
	// AllTags: the contact carries every one of these contact tags
	// ("social:promo"); AnyTags: at least one; NoneTags: none of them.
	AllTags  []string `yaml:"allTags,omitempty" json:"allTags,omitempty"`
	AnyTags  []string `yaml:"anyTags,omitempty" json:"anyTags,omitempty"`
	NoneTags []string `yaml:"noneTags,omitempty" json:"noneTags,omitempty"`
	// PostedWithinDays: at least MinPosts (default 1) of the contact's
	// posts, the posts whose social tags the contact carries, were made
	// in the last N days.
	PostedWithinDays int `yaml:"postedWithinDays,omitempty" json:"postedWithinDays,omitempty"`
	MinPosts         int `yaml:"minPosts,omitempty" json:"minPosts,omitempty"`
	// NotPostedWithinDays: none of the contact's posts was made in the
	// last N days (a lapsed contact).
	NotPostedWithinDays int `yaml:"notPostedWithinDays,omitempty" json:"notPostedWithinDays,omitempty"`
}

// SegmentsFile is the YAML file `socialsync segments apply` reads.
type SegmentsFile struct {
	Segments []Segment `yaml:"segments"`
}

// Tag returns the contact tag of the segment's members.
func (s Segment) Tag() string { return SegmentTag(s.Name) }

// SegmentTag returns the contact tag of the members of segment name.
func SegmentTag(name string) string { return SegmentTagPrefix + name }

// NeedsPosts reports whether the rule looks at post dates.
func (s Segment) NeedsPosts() bool { return s.PostedWithinDays > 0 || s.NotPostedWithinDays > 0 }

// AppliesTo reports whether the segment applies to location loc.
func (s Segment) AppliesTo(loc string) bool { return appliesTo(s.Locations, loc) }

// ParseSegments reads a segments file; name is the file's name for error
// messages. Every definition is checked: the first problem is returned as
// a *FieldError naming the line and the field.
func ParseSegments(name string, data []byte) ([]Segment, error) {
	var f SegmentsFile
	doc, err := decode(name, data, &f)
	if err != nil {
		return nil, err
	}
	if len(f.Segments) == 0 {
		return nil, doc.errorAt("segments", "no segments: want a list under segments:")
	}
	seen := map[string]int{}
	out := make([]Segment, 0, len(f.Segments))
	for i, s := range f.Segments {
		field := fmt.Sprintf("segments[%d]", i)
		n, err := s.check(doc, field)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[n.Name]; dup {
			return nil, doc.errorAt(field+".name", "segment %q is defined twice (also segments[%d])", n.Name, j)
		}
		seen[n.Name] = i
		out = append(out, n)
	}
	return out, nil
}

// DecodeSegment reads a segment as the segments bucket stores it (JSON)
// and checks it again: a broken stored definition is refused.
func DecodeSegment(data []byte) (Segment, error) {
	var s Segment
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Segment{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s.check(nil, "")
}

// Validate checks s and returns it normalised (tags lower case, sorted).
func (s Segment) Validate() (Segment, error) { return s.check(nil, "") }

func (s Segment) check(d *document, field string) (Segment, error) {
	at := func(f string) string {
		if field == "" {
			return f
		}
		return field + "." + f
	}
	if !ValidName(s.Name) {
		return s, d.errorAt(at("name"), "want 1 to %d lower-case letters, digits, '-' or '_', got %q", MaxNameLen, s.Name)
	}
	if err := d.checkLocations(at("locations"), s.Locations); err != nil {
		return s, err
	}
	var err error
	for _, l := range []struct {
		name string
		tags *[]string
	}{{"allTags", &s.AllTags}, {"anyTags", &s.AnyTags}, {"noneTags", &s.NoneTags}} {
		if *l.tags, err = d.checkTags(at(l.name), *l.tags); err != nil {
			return s, err
		}
		for i, t := range *l.tags {
			if strings.HasPrefix(t, SegmentTagPrefix) {
				// Membership is computed from social tags only, in one
				// pass; a segment of segments would depend on the order.
				return s, d.errorAt(fmt.Sprintf("%s[%d]", at(l.name), i), "%q is a segment's tag: a rule names social contact tags only", t)
			}
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"postedWithinDays", s.PostedWithinDays}, {"notPostedWithinDays", s.NotPostedWithinDays}} {
		if f.v < 0 || f.v > maxDays {
			return s, d.errorAt(at(f.name), "want 1 to %d days, got %d", maxDays, f.v)
		}
	}
	if len(s.AllTags) == 0 && len(s.AnyTags) == 0 && len(s.NoneTags) == 0 && !s.NeedsPosts() {
		return s, d.errorAt(at("name"), "segment %q has no rule: give allTags, anyTags, noneTags, postedWithinDays or notPostedWithinDays", s.Name)
	}
	for _, t := range s.AllTags {
		if slices.Contains(s.NoneTags, t) {
			return s, d.errorAt(at("noneTags"), "%q is in allTags and noneTags: no contact can match", t)
		}
	}
	switch {
	case s.MinPosts < 0:
		return s, d.errorAt(at("minPosts"), "want a positive number, got %d", s.MinPosts)
	case s.MinPosts > 0 && s.PostedWithinDays == 0:
		return s, d.errorAt(at("minPosts"), "minPosts counts posts within postedWithinDays, which is not set")
	case s.PostedWithinDays > 0 && s.NotPostedWithinDays > 0 && s.NotPostedWithinDays <= s.PostedWithinDays:
		return s, d.errorAt(at("notPostedWithinDays"), "must be more than postedWithinDays (%d) for a contact to match", s.PostedWithinDays)
	}
	if len(SegmentTag(s.Name)) > 128 {
		return s, d.errorAt(at("name"), "name too long for a contact tag")
	}
	return s, nil
}

// Facts are what a segment rule looks at for one contact.
type Facts struct {
	// Known is whether socialsync has linked the contact to any post.
	Known bool
	// Tags are the contact tags socialsync applied for social tags.
	Tags []string
	// Posts are the dates of the contact's posts; a post whose date is
	// not known yet is left out.
	Posts []time.Time
}

// Matches reports whether a contact with facts f belongs to s at now.
func (s Segment) Matches(f Facts, now time.Time) bool {
	if !f.Known {
		return false
	}
	have := make(map[string]bool, len(f.Tags))
	for _, t := range f.Tags {
		have[normTag(t)] = true
	}
	for _, t := range s.AllTags {
		if !have[t] {
			return false
		}
	}
	if len(s.AnyTags) > 0 && !slices.ContainsFunc(s.AnyTags, func(t string) bool { return have[t] }) {
		return false
	}
	if slices.ContainsFunc(s.NoneTags, func(t string) bool { return have[t] }) {
		return false
	}
	if s.PostedWithinDays > 0 && recent(f.Posts, now, s.PostedWithinDays) < max(s.MinPosts, 1) {
		return false
	}
	if s.NotPostedWithinDays > 0 && recent(f.Posts, now, s.NotPostedWithinDays) > 0 {
		return false
	}
	return true
}

// recent counts the dates within the last days days before now.
func recent(dates []time.Time, now time.Time, days int) int {
	since := now.Add(-time.Duration(days) * 24 * time.Hour)
	n := 0
	for _, d := range dates {
		if !d.Before(since) {
			n++
		}
	}
	return n
}

// MembershipDiff returns the segments a contact enters and leaves: it
// belongs to desired and belonged to current. Both results are sorted.
func MembershipDiff(current, desired []string) (entered, left []string) {
	for _, n := range desired {
		if !slices.Contains(current, n) {
			entered = append(entered, n)
		}
	}
	for _, n := range current {
		if !slices.Contains(desired, n) {
			left = append(left, n)
		}
	}
	slices.Sort(entered)
	slices.Sort(left)
	return entered, left
}

// Membership returns the segments among defs, applicable to loc, whose
// rule f satisfies at now; a segment in keep (a definition that could not
// be loaded) stays as it is in current. The result is sorted.
func Membership(defs []Segment, keep map[string]bool, loc string, current []string, f Facts, now time.Time) []string {
	var out []string
	for _, s := range defs {
		if s.AppliesTo(loc) && s.Matches(f, now) {
			out = append(out, s.Name)
		}
	}
	for _, n := range current {
		if keep[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
