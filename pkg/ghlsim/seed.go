package ghlsim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// seedEpoch anchors the creation times of seeded tags and contacts, so they
// do not depend on the day the simulator starts. Posts are placed around
// the start day instead, so that recent and scheduled posts exist.
func seedEpoch() time.Time { return time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC) }

// seedData loads the named seed: a company and its app, and for "demo" the
// demo locations. Everything is drawn from generators seeded by the seed's
// name, in a fixed order, so the same seed gives the same data.
func (s *Simulator) seedData(seed string) error {
	r := seededRand(seed, "data")
	s.company = company{id: alnumID(r, 20), name: "Demo Agency", userID: alnumID(r, 20)}
	appID := hexID(r, 24)
	s.apps = []*app{{
		clientID:     appID + "-" + fromAlphabet(r, lowerAlnum, 8),
		clientSecret: uuidFrom(r),
		companyID:    s.company.id,
		appID:        appID,
		versionID:    appID,
	}}
	if seed == "empty" {
		return nil
	}
	start := s.now().UTC().Truncate(24 * time.Hour)
	for i, d := range demoLocations() {
		l, err := s.buildLocation(locationSpec{ID: alnumID(r, 20), Name: d[0], Timezone: d[1], Address: d[2]}, seedEpoch())
		if err != nil {
			return err
		}
		s.fillDemo(l, r, i, start)
		s.publish(l)
	}
	return nil
}

// locationSpec describes a location to create; the admin API decodes it.
type locationSpec struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Timezone   string        `json:"timezone"`
	Address    string        `json:"address"`
	SocialTags []string      `json:"socialTags"`
	Accounts   []accountSpec `json:"accounts"`
	Contacts   []contactSpec `json:"contacts"`
	// CustomFields define contact custom fields by key
	// ("contact.last_social_tag") or name.
	CustomFields []string `json:"customFields"`
}

// accountSpec describes a social account to connect.
type accountSpec struct {
	Platform string `json:"platform"`
	Name     string `json:"name"`
}

// contactSpec describes a contact to create.
type contactSpec struct {
	ID        string   `json:"id"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	Tags      []string `json:"tags"`
	Deleted   bool     `json:"deleted"`
}

// buildLocation creates an unpublished location from spec, validating it.
// Its objects are created at time at. The spec's id must be set.
func (s *Simulator) buildLocation(spec locationSpec, at time.Time) (*location, error) {
	if !isAlnum(spec.ID) || len(spec.ID) > 64 {
		return nil, fmt.Errorf("id: want letters and digits only (HighLevel uses 20), got %q", spec.ID)
	}
	if spec.Timezone == "" {
		spec.Timezone = "UTC"
	}
	tz, err := time.LoadLocation(spec.Timezone)
	if err != nil || spec.Timezone == "Local" {
		return nil, fmt.Errorf("timezone: want an IANA time zone such as America/New_York, got %q", spec.Timezone)
	}
	if spec.Name == "" {
		spec.Name = "Sandbox Location " + spec.ID[:min(6, len(spec.ID))]
	}
	if spec.Address == "" {
		spec.Address = "1 Sandbox Way, Springfield, USA"
	}
	l := newLocation(spec.ID, spec.Name, spec.Timezone, tz, s.company.id, seededRand(s.seed, "location/"+spec.ID))
	l.address = spec.Address
	l.createdAt = at
	first, last := firstNames(), lastNames()
	fn, ln := first[l.rng.IntN(len(first))], last[l.rng.IntN(len(last))]
	l.user = ghl.PostUser{
		ID: alnumID(l.rng, 20), Title: "Owner", FirstName: fn, LastName: ln,
		ProfilePhoto: "https://storage.googleapis.com/ghlsim/users/" + strings.ToLower(fn) + ".jpeg",
		Phone:        "+1555" + digitsID(l.rng, 7),
		Email:        strings.ToLower(fn+"."+ln) + "@example.com",
	}
	l.pit = "pit-" + uuidFrom(l.rng)

	for _, name := range spec.SocialTags {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("socialTags: a tag name is empty")
		}
		if l.liveTagNamed(name) != nil {
			return nil, fmt.Errorf("socialTags: %q is listed twice", name)
		}
		l.addSocialTag(name, at)
	}
	for _, f := range spec.CustomFields {
		if _, err := l.addCustomField(f); err != nil {
			return nil, fmt.Errorf("customFields: %w", err)
		}
	}
	for i, a := range spec.Accounts {
		if !isPlatform(a.Platform) {
			return nil, fmt.Errorf("accounts[%d].platform: want one of %s, got %q", i, strings.Join(platforms(), ", "), a.Platform)
		}
		l.addAccount(a.Platform, a.Name, at)
	}
	for i, c := range spec.Contacts {
		if c.ID == "" {
			c.ID = alnumID(l.rng, 20)
		}
		if !isFirebaseID(c.ID) {
			return nil, fmt.Errorf("contacts[%d].id: want 20 letters and digits, got %q", i, c.ID)
		}
		if _, taken := s.contacts.Load(c.ID); taken || l.contactByID[c.ID] != nil {
			return nil, fmt.Errorf("contacts[%d].id: contact %s already exists", i, c.ID)
		}
		l.addContact(c, at)
	}
	return l, nil
}

// addAccount connects a social account. Callers hold mu for writing (or
// own an unpublished location).
func (l *location) addAccount(platform, name string, at time.Time) ghl.Account {
	if name == "" {
		name = l.name + " " + platformTitle(platform)
	}
	oauthID := alnumID(l.rng, 20)
	a := ghl.Account{
		ID:        oauthID + "_" + l.id + "_" + digitsID(l.rng, 20),
		OAuthID:   oauthID,
		ProfileID: hexID(l.rng, 24),
		Name:      name,
		Platform:  platform,
		Type:      accountType(platform),
		Expire:    at.AddDate(1, 0, 0).UTC().Format(jsTime),
		Meta:      map[string]any{"canDelete": true},
	}
	l.accounts = append(l.accounts, a)
	return a
}

// addContact creates a contact. Callers hold mu for writing (or own an
// unpublished location) and have checked the id.
func (l *location) addContact(spec contactSpec, at time.Time) *contact {
	c := &contact{
		Contact: ghl.Contact{
			ID:         spec.ID,
			LocationID: l.id,
			FirstName:  spec.FirstName,
			LastName:   spec.LastName,
			Email:      spec.Email,
			Phone:      spec.Phone,
			Timezone:   l.timezone,
			Source:     "sandbox",
			DateAdded:  at.UTC().Format(jsTime),
			Tags:       []string{},
		},
		deleted: spec.Deleted,
	}
	l.addContactTags(c, spec.Tags)
	l.contacts = append(l.contacts, c)
	l.contactByID[c.ID] = c
	return c
}

// addPost creates a post. Callers hold mu for writing (or own an
// unpublished location).
func (l *location) addPost(p ghl.Post) *ghl.Post {
	p.ID = hexID(l.rng, 24)
	p.LocationID = l.id
	if p.Tags == nil {
		p.Tags = []string{}
	}
	if p.CreatedBy == "" {
		p.CreatedBy = l.user.ID
	}
	post := &p
	l.posts = append(l.posts, post)
	l.postByID[post.ID] = post
	return post
}

// jsTime is how JavaScript's Date.toISOString formats times.
const jsTime = "2006-01-02T15:04:05.000Z07:00"

// fillDemo fills a demo location with tags, accounts, posts, contacts,
// location tags and custom values. start is the simulator's first UTC day.
func (s *Simulator) fillDemo(l *location, r *rand.Rand, index int, start time.Time) {
	epoch := seedEpoch()

	// Social Planner tags: topics first, then topic + qualifier.
	nTags := 20 + r.IntN(181)
	if index == 0 {
		nTags = max(nTags, 150) // one location pages through many tags
	}
	topics, quals := socialTopics(), socialQualifiers()
	r.Shuffle(len(topics), func(i, j int) { topics[i], topics[j] = topics[j], topics[i] })
	var names []string
	names = append(names, topics...)
	for _, q := range quals {
		for _, t := range topics {
			names = append(names, t+" "+q)
		}
	}
	for i := range nTags {
		at := epoch.Add(time.Duration(i)*61*time.Hour + time.Duration(r.IntN(3600_000))*time.Millisecond)
		t := l.addSocialTag(names[i], at)
		if r.IntN(100) < 5 {
			t.Deleted = true
			t.UpdatedAt = at.Add(24 * time.Hour)
			t.refresh()
		}
	}

	// Accounts on several platforms.
	plats := platforms()
	r.Shuffle(len(plats), func(i, j int) { plats[i], plats[j] = plats[j], plats[i] })
	for _, p := range plats[:3+r.IntN(4)] {
		l.addAccount(p, "", start)
	}

	// Posts around the start day, carrying tags of the first part of the
	// catalogue (so some tags have no posts).
	tagPool := l.tags[:max(5, len(l.tags)*6/10)]
	summaries := postSummaries()
	nPosts := 40 + r.IntN(81)
	for range nPosts {
		a := l.accounts[r.IntN(len(l.accounts))]
		display := start.Add(-45*24*time.Hour + time.Duration(r.IntN(55*24*60))*time.Minute)
		created := display.Add(-time.Duration(1+r.IntN(72))*time.Hour - time.Duration(r.IntN(60_000))*time.Millisecond)
		var tags []string
		for range 1 + r.IntN(4) {
			id := tagPool[r.IntN(len(tagPool))].ID
			if !slices.Contains(tags, id) {
				tags = append(tags, id)
			}
		}
		first := l.tagByID[tags[0]].Tag
		p := ghl.Post{
			Source:      "composer",
			Platform:    a.Platform,
			DisplayDate: timePtr(display),
			CreatedAt:   timePtr(created),
			UpdatedAt:   timePtr(created),
			AccountID:   a.ID,
			AccountIDs:  []string{a.ID},
			Summary:     fmt.Sprintf(summaries[r.IntN(len(summaries))], first),
			Type:        []string{"post", "post", "post", "story", "reel"}[r.IntN(5)],
			Tags:        tags,
		}
		switch roll := r.IntN(100); {
		case display.After(start) && roll < 85:
			p.Status = "scheduled"
		case display.After(start):
			p.Status = "draft"
		case roll < 85:
			p.Status = "published"
			p.PublishedAt = timePtr(display)
			p.PostID = digitsID(r, 17)
		case roll < 95:
			p.Status = "failed"
			p.Error = "Failed due to auth token"
		default:
			p.Status = "deleted"
		}
		if r.IntN(3) > 0 {
			p.Media = []ghl.PostMedia{{
				URL:  "https://storage.googleapis.com/ghlsim/media/" + hexID(r, 12) + ".jpeg",
				Type: "image/jpeg",
			}}
		}
		l.addPost(p)
	}

	// Contacts, some deleted, with contact tags and a few social tag names.
	first, last := firstNames(), lastNames()
	words := contactTagWords()
	sources := []string{"facebook form", "website", "instagram", "import", "walk-in", "referral"}
	nContacts := 150 + r.IntN(251)
	for i := range nContacts {
		fn, ln := first[r.IntN(len(first))], last[r.IntN(len(last))]
		var tags []string
		for range r.IntN(5) {
			if r.IntN(4) == 0 {
				tags = append(tags, tagPool[r.IntN(len(tagPool))].Tag)
			} else {
				tags = append(tags, words[r.IntN(len(words))])
			}
		}
		at := epoch.Add(time.Duration(i)*7*time.Hour + time.Duration(r.IntN(7*3600_000))*time.Millisecond)
		c := l.addContact(contactSpec{
			ID: alnumID(r, 20), FirstName: fn, LastName: ln,
			Email:   strings.ToLower(asciiName(fn)+"."+asciiName(ln)) + fmt.Sprintf("%d@example.com", i),
			Tags:    tags,
			Deleted: r.IntN(100) < 3,
		}, at)
		c.Phone = "+1555" + digitsID(r, 7)
		c.Source = sources[r.IntN(len(sources))]
		c.Country = countryOf(l.timezone)
	}

	// Location tags nobody uses yet, and custom values.
	l.ensureLocTag("newsletter")
	l.ensureLocTag("do not contact")
	slug := strings.ToLower(strings.ReplaceAll(l.name, " ", ""))
	for _, cv := range [][2]string{
		{"Business Hours", "Mon–Fri 9am–5pm"},
		{"Booking Link", "https://example.com/book/" + slug},
		{"Brand Hashtag", "#" + slug},
	} {
		l.addCustomValue(cv[0], cv[1])
	}
}

// countryOf returns a contact country code for a demo time zone.
func countryOf(tz string) string {
	switch {
	case strings.HasPrefix(tz, "America/"):
		return "US"
	case tz == "Europe/Berlin":
		return "DE"
	case tz == "Asia/Kolkata":
		return "IN"
	case strings.HasPrefix(tz, "Australia/"):
		return "AU"
	}
	return ""
}

// asciiName drops what does not belong in an e-mail address.
func asciiName(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == 'ü':
			b.WriteString("ue")
		case c < 128 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'):
			b.WriteRune(c)
		}
	}
	return b.String()
}

func timePtr(t time.Time) *time.Time {
	t = t.UTC().Truncate(time.Millisecond)
	return &t
}
