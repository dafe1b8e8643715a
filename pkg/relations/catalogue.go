package relations

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// Tag is a Social Planner tag as the catalogue keeps it.
type Tag struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// MaxTombstones bounds the deleted tags a catalogue remembers; past it
// the oldest tombstones are forgotten.
const MaxTombstones = 10000

// Catalogue is a location's social tag catalogue as stored in the
// socialsync_tags bucket under the location id:
// {"tags":[{"id","name"}...],"deleted":[{"id","name"}...],"fetchedAt":RFC3339}.
// FetchedAt is when the fetch that produced it began. Deleted holds
// tombstones: tags HighLevel listed as deleted, or that an earlier
// catalogue held and a later fetch no longer found, oldest first. They
// let readers tell a tag that was deleted (which will never come back)
// from one the catalogue has not seen yet.
type Catalogue struct {
	Tags      []Tag     `json:"tags"`
	Deleted   []Tag     `json:"deleted,omitempty"`
	FetchedAt time.Time `json:"fetchedAt"`
}

// Remember returns c with tombstones for the tags prev held (live or
// deleted) that c does not hold live, and for the tags HighLevel listed as
// deleted; a tag live again in c loses its tombstone. At most
// MaxTombstones are kept, the newest.
func (c Catalogue) Remember(prev Catalogue, listedDeleted []Tag) Catalogue {
	live := make(map[string]bool, len(c.Tags))
	for _, t := range c.Tags {
		live[t.ID] = true
	}
	seen := map[string]bool{}
	var dead []Tag
	keep := func(t Tag) {
		if t.ID == "" || live[t.ID] || seen[t.ID] || !ghl.ValidID(t.ID) {
			return
		}
		seen[t.ID] = true
		dead = append(dead, t)
	}
	for _, t := range prev.Deleted {
		keep(t)
	}
	for _, t := range prev.Tags {
		keep(t)
	}
	for _, t := range listedDeleted {
		keep(t)
	}
	if len(dead) > MaxTombstones {
		dead = dead[len(dead)-MaxTombstones:]
	}
	c.Deleted = dead
	return c
}

// NewCatalogue returns the catalogue of tags fetched at fetchedAt, in the
// order HighLevel listed them: a repeated id is kept once (its first
// occurrence), and a tag whose id is not 1 to 64 letters and digits
// (HighLevel's are 24 hex digits) is left out, since tag ids become parts
// of keys and message ids.
func NewCatalogue(tags []Tag, fetchedAt time.Time) Catalogue {
	seen := make(map[string]bool, len(tags))
	out := make([]Tag, 0, len(tags))
	for _, t := range tags {
		if !ghl.ValidID(t.ID) || seen[t.ID] {
			continue
		}
		seen[t.ID] = true
		out = append(out, t)
	}
	return Catalogue{Tags: out, FetchedAt: fetchedAt.UTC()}
}

// Marshal encodes c as stored.
func (c Catalogue) Marshal() ([]byte, error) {
	if c.Tags == nil {
		c.Tags = []Tag{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode catalogue: %w", err)
	}
	return b, nil
}

// UnmarshalCatalogue decodes a stored catalogue.
func UnmarshalCatalogue(data []byte) (Catalogue, error) {
	var c Catalogue
	if err := json.Unmarshal(data, &c); err != nil {
		return Catalogue{}, fmt.Errorf("decode catalogue: %w", err)
	}
	return c, nil
}

// Names returns the catalogue's live tag names by id.
func (c Catalogue) Names() map[string]string {
	out := make(map[string]string, len(c.Tags))
	for _, t := range c.Tags {
		out[t.ID] = t.Name
	}
	return out
}

// Tombstones returns the last known names of the deleted tags by id.
func (c Catalogue) Tombstones() map[string]string {
	out := make(map[string]string, len(c.Deleted))
	for _, t := range c.Deleted {
		out[t.ID] = t.Name
	}
	return out
}
