package ghlsim

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// location is one HighLevel sub-account and everything in it. Immutable
// fields are set before the location is published; the rest is guarded by
// mu. The rate limiter has its own lock.
type location struct {
	id        string
	name      string
	address   string
	timezone  string
	tz        *time.Location
	pit       string
	companyID string
	createdAt time.Time
	user      ghl.PostUser // the sub-account user who creates posts and tags
	// uninstalled is set by POST /_sandbox/locations/{id}/uninstall
	// (install.go) and cleared by an approved authorization.
	uninstalled atomic.Bool

	limiter limiter

	mu           sync.RWMutex
	rng          *rand.Rand // ids of objects created later; guarded by mu
	tags         []*socialTag
	tagByID      map[string]*socialTag
	accounts     []ghl.Account
	posts        []*ghl.Post
	postByID     map[string]*ghl.Post
	contacts     []*contact
	contactByID  map[string]*contact
	locTags      []ghl.LocationTag
	locTagByName map[string]int // normalized name → index in locTags
	customValues []*ghl.CustomValue
	customFields []customField
	statsPlans   map[string]statsPlan // platform → plan (PUT …/statistics)
}

// socialTag is a Social Planner tag with what the hot path needs: its
// lower-cased name for searches and its JSON encoding. Call refresh after
// every change; enc is replaced, never modified, so readers may keep it.
type socialTag struct {
	ghl.SocialTag
	lower string
	enc   []byte
}

// refresh recomputes the derived fields after a change.
func (t *socialTag) refresh() {
	t.lower = strings.ToLower(t.Tag)
	t.enc = encodeJSON(t.SocialTag)
}

// contact is a contact of the location. Tags are normalized names.
type contact struct {
	ghl.Contact
	deleted bool
	// createdAt is when the contact was created through the API or the
	// admin API (zero for seeded ones): the search index holds it from
	// createdAt plus the configured searchIndexLag.
	createdAt time.Time
}

// indexed reports whether the search index holds c at now.
func (c *contact) indexed(now time.Time, lag time.Duration) bool {
	return c.createdAt.IsZero() || !now.Before(c.createdAt.Add(lag))
}

// newLocation returns an empty location; rng seeds its later ids.
func newLocation(id, name, timezone string, tz *time.Location, companyID string, rng *rand.Rand) *location {
	return &location{
		id:           id,
		name:         name,
		timezone:     timezone,
		tz:           tz,
		companyID:    companyID,
		rng:          rng,
		tagByID:      map[string]*socialTag{},
		postByID:     map[string]*ghl.Post{},
		contactByID:  map[string]*contact{},
		locTagByName: map[string]int{},
	}
}

// normalizeTag is how HighLevel stores a contact tag: trimmed and lower case.
func normalizeTag(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// addSocialTag appends a Social Planner tag. Callers hold mu.
func (l *location) addSocialTag(name string, createdAt time.Time) *socialTag {
	t := &socialTag{
		SocialTag: ghl.SocialTag{
			ID:         hexID(l.rng, 24),
			Tag:        name,
			LocationID: l.id,
			CreatedBy:  l.user.ID,
			CreatedAt:  createdAt,
			UpdatedAt:  createdAt,
		},
	}
	t.refresh()
	l.tags = append(l.tags, t)
	l.tagByID[t.ID] = t
	return t
}

// liveTagNamed returns the non-deleted tag with name, ignoring case. Callers
// hold mu.
func (l *location) liveTagNamed(name string) *socialTag {
	lower := strings.ToLower(name)
	for _, t := range l.tags {
		if !t.Deleted && t.lower == lower {
			return t
		}
	}
	return nil
}

// ensureLocTag returns the catalogue tag named name (normalized), adding it
// when missing. Callers hold mu for writing.
func (l *location) ensureLocTag(name string) ghl.LocationTag {
	key := normalizeTag(name)
	if i, ok := l.locTagByName[key]; ok {
		return l.locTags[i]
	}
	t := ghl.LocationTag{ID: alnumID(l.rng, 20), Name: key, LocationID: l.id}
	l.locTagByName[key] = len(l.locTags)
	l.locTags = append(l.locTags, t)
	return t
}

// hasLocTag reports whether the catalogue holds name. Callers hold mu.
func (l *location) hasLocTag(name string) bool {
	_, ok := l.locTagByName[normalizeTag(name)]
	return ok
}

// addContactTags adds normalized tags to c, and to the catalogue, and
// returns those that were new to c. Callers hold mu for writing.
func (l *location) addContactTags(c *contact, tags []string) []string {
	added := []string{}
	for _, raw := range tags {
		t := normalizeTag(raw)
		if t == "" {
			continue
		}
		l.ensureLocTag(t)
		if !slices.Contains(c.Tags, t) {
			c.Tags = append(c.Tags, t)
			added = append(added, t)
		}
	}
	return added
}

// removeContactTags removes normalized tags from c and returns those it
// had. Callers hold mu for writing.
func removeContactTags(c *contact, tags []string) []string {
	removed := []string{}
	for _, raw := range tags {
		t := normalizeTag(raw)
		if i := slices.Index(c.Tags, t); i >= 0 {
			c.Tags = slices.Delete(c.Tags, i, i+1)
			removed = append(removed, t)
		}
	}
	return removed
}

// accountByProfile returns the account with profileID. Callers hold mu.
func (l *location) accountByProfile(profileID string) (ghl.Account, bool) {
	for _, a := range l.accounts {
		if a.ProfileID == profileID {
			return a, true
		}
	}
	return ghl.Account{}, false
}

// company is the agency that owns the locations and installed the apps.
type company struct {
	id     string
	name   string
	userID string
}

// app is a marketplace app (an OAuth client) installed on the company's
// locations.
type app struct {
	clientID     string
	clientSecret string
	companyID    string
	appID        string // the part of clientID before the dash
	versionID    string
}
