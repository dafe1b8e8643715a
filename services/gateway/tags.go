package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/relations"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// tag is a social tag as the API shows it, with its performance: the
// posts carrying it and the contacts those posts reached.
type tag struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Posts    int        `json:"posts"`
	Contacts int        `json:"contacts"`
	Details  *tagDetail `json:"details"`
}

type tagDetail struct {
	Deleted   bool       `json:"deleted"`
	CreatedBy string     `json:"createdBy,omitempty"`
	CreatedAt *time.Time `json:"createdAt,omitempty"`
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

type tagList struct {
	Items      []tag      `json:"items"`
	FetchedAt  *time.Time `json:"fetchedAt,omitempty"`
	NextCursor string     `json:"nextCursor,omitempty"`
}

// tagRelations is a tag with the ids of its posts and contacts.
type tagRelations struct {
	tag
	PostIDs    []string `json:"postIds"`
	ContactIDs []string `json:"contactIds"`
}

// catalogue is what the gateway knows of a location's tags.
type catalogue struct {
	tags      []tag
	fetchedAt time.Time
	posts     map[string][]string // tag → posts
	contacts  map[string][]string // tag → contacts
}

func (g *Gateway) catalogue(ctx context.Context, loc string) (catalogue, error) {
	var c catalogue
	raw, err := get(ctx, g.kv.tags, relations.CatalogueKey(loc))
	if err != nil {
		return c, err
	}
	var stored relations.Catalogue
	if raw != nil {
		if err := json.Unmarshal(raw, &stored); err != nil {
			g.log.Warn("stored tag catalogue unreadable", "location", loc, "err", err)
		}
	}
	c.fetchedAt = stored.FetchedAt
	details, err := scan(ctx, g.kv.details, relations.DetailsPattern(loc))
	if err != nil {
		return c, err
	}
	tagPosts, err := scan(ctx, g.kv.relations, relations.TagPostsPattern(loc))
	if err != nil {
		return c, err
	}
	postContacts, err := scan(ctx, g.kv.relations, relations.PostContactsPattern(loc))
	if err != nil {
		return c, err
	}
	c.posts, c.contacts = map[string][]string{}, map[string][]string{}
	for key, raw := range tagPosts {
		var tp relations.TagPosts
		if json.Unmarshal(raw, &tp) != nil {
			continue
		}
		id := strings.TrimPrefix(key, relations.TagPostsPrefix(loc))
		c.posts[id] = tp.PostIDs
		seen := map[string]bool{}
		for _, post := range tp.PostIDs {
			var pc relations.PostContacts
			if json.Unmarshal(postContacts[relations.PostContactsKey(loc, post)], &pc) != nil {
				continue
			}
			for _, contact := range pc.ContactIDs {
				if !seen[contact] {
					seen[contact] = true
					c.contacts[id] = append(c.contacts[id], contact)
				}
			}
		}
		slices.Sort(c.contacts[id])
	}
	for _, t := range stored.Tags {
		if !ghl.ValidID(t.ID) {
			continue
		}
		c.tags = append(c.tags, tag{ID: t.ID, Name: t.Name, Posts: len(c.posts[t.ID]), Contacts: len(c.contacts[t.ID]),
			Details: toTagDetail(details[relations.DetailsKey(loc, t.ID)])})
	}
	return c, nil
}

func toTagDetail(raw []byte) *tagDetail {
	if raw == nil {
		return nil
	}
	var pb socialsyncv1.TagDetail
	if (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(raw, &pb) != nil {
		return nil
	}
	d := &tagDetail{Deleted: pb.GetDeleted(), CreatedBy: pb.GetCreatedBy()}
	if pb.GetCreatedAt() != nil {
		t := pb.GetCreatedAt().AsTime()
		d.CreatedAt = &t
	}
	if pb.GetUpdatedAt() != nil {
		t := pb.GetUpdatedAt().AsTime()
		d.UpdatedAt = &t
	}
	return d
}

func (g *Gateway) listTags(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	p, ok := parsePage(w, r)
	if !ok {
		return
	}
	c, err := g.catalogue(r.Context(), l.ID)
	if err != nil {
		g.storeError(w, "read tags", err)
		return
	}
	lo, hi, next := p.window(len(c.tags))
	out := tagList{Items: append([]tag{}, c.tags[lo:hi]...), NextCursor: next}
	if !c.fetchedAt.IsZero() {
		out.FetchedAt = &c.fetchedAt
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) getTag(w http.ResponseWriter, r *http.Request) {
	l, ok := g.location(w, r)
	if !ok {
		return
	}
	id := r.PathValue("tag")
	if !ghl.ValidID(id) {
		writeError(w, http.StatusBadRequest, "bad_request", "tag: want a tag id (letters and digits), got "+quote(id))
		return
	}
	c, err := g.catalogue(r.Context(), l.ID)
	if err != nil {
		g.storeError(w, "read tags", err)
		return
	}
	i := slices.IndexFunc(c.tags, func(t tag) bool { return t.ID == id })
	if i < 0 {
		writeError(w, http.StatusNotFound, "not_found", "tag "+id+" is not in the catalogue of location "+l.ID)
		return
	}
	out := tagRelations{tag: c.tags[i], PostIDs: postIDs(c.posts[id]), ContactIDs: c.contacts[id]}
	if out.PostIDs == nil {
		out.PostIDs = []string{}
	}
	if out.ContactIDs == nil {
		out.ContactIDs = []string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// postIDs returns the post ids, in the sending systems' spelling, of the
// post keys (ids.Key) a tag's relations list. A post of a source other
// than ids.DefaultSource is shown as "<source>:<id>".
func postIDs(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		source, id, err := ids.ParseKey(k)
		switch {
		case err != nil:
			continue // not written by the enricher
		case source == ids.DefaultSource:
			out = append(out, id)
		default:
			out = append(out, source+":"+id)
		}
	}
	return out
}
