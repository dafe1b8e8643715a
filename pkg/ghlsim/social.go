package ghlsim

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// defaultTagLimit is the page size of the tag list when the request sets
// none; HighLevel declares no default.
const defaultTagLimit = 10

// listSocialTags answers GET /social-media-posting/{locationId}/tags: the
// location's tags that are not deleted, in creation order, filtered by
// searchText (case-insensitive substring) and paged by skip and limit.
// count is the number of tags in the page.
func (s *Simulator) listSocialTags(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	skip, ok := queryInt(w, q.Get("skip"), "skip", 0, 0)
	if !ok {
		return
	}
	limit, ok := queryInt(w, q.Get("limit"), "limit", defaultTagLimit, 1)
	if !ok {
		return
	}
	search := strings.ToLower(q.Get("searchText"))

	l := c.loc
	page := make([][]byte, 0, min(limit, 100))
	l.mu.RLock()
	for _, t := range l.tags {
		if t.Deleted || (search != "" && !strings.Contains(t.lower, search)) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(page) == limit {
			break
		}
		page = append(page, t.enc)
	}
	l.mu.RUnlock()
	writeTagPage(w, page)
}

// writeTagPage writes the 200 answer of the tag list from the tags' cached
// encodings: byte for byte what encoding a ghl.Envelope[ghl.TagsResults]
// gives (a test holds it to that), without encoding every tag's times on
// every request — the simulator's hottest path.
func writeTagPage(w http.ResponseWriter, tags [][]byte) {
	var b *bytes.Buffer
	if pool, ok := w.(interface{ buffers() *bufPool }); ok {
		b = pool.buffers().get()
		defer pool.buffers().put(b)
	} else {
		b = new(bytes.Buffer)
	}
	b.WriteString(`{"success":true,"statusCode":200,"message":"Fetched Tags by Location ID","results":{"tags":[`)
	for i, t := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(t)
	}
	b.WriteString(`],"count":`)
	b.WriteString(strconv.Itoa(len(tags)))
	b.WriteString(`},"traceId":"`)
	b.WriteString(newTraceID())
	b.WriteString(`"}`)
	writeRaw(w, http.StatusOK, b.Bytes())
}

// queryInt parses a numeric query parameter HighLevel types as a string.
// An empty value gives def; a non-number or a value below minimum answers
// 422 and returns false.
func queryInt(w http.ResponseWriter, v, name string, def, minimum int) (int, bool) {
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		writeUnprocessable(w, name+" must be a number string")
		return 0, false
	}
	if n < minimum {
		writeUnprocessable(w, name+" must not be less than "+strconv.Itoa(minimum))
		return 0, false
	}
	return n, true
}

// socialTagDetails answers POST /social-media-posting/{locationId}/tags/details
// with 201: the tags with the requested ids, deleted ones included, in the
// order asked; unknown ids are left out.
func (s *Simulator) socialTagDetails(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		TagIDs *[]string `json:"tagIds"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	if body.TagIDs == nil {
		writeUnprocessable(w, "tagIds must be an array", "tagIds should not be empty")
		return
	}
	for _, id := range *body.TagIDs {
		if !isObjectID(id) {
			writeBadRequest(w, msgBadObjectID)
			return
		}
	}
	l := c.loc
	tags := make([]ghl.SocialTag, 0, len(*body.TagIDs))
	seen := make(map[string]bool, len(*body.TagIDs))
	l.mu.RLock()
	for _, id := range *body.TagIDs {
		if t := l.tagByID[strings.ToLower(id)]; t != nil && !seen[t.ID] {
			seen[t.ID] = true
			tags = append(tags, t.SocialTag)
		}
	}
	l.mu.RUnlock()
	writeJSON(w, http.StatusCreated, ghl.Envelope[ghl.TagsResults]{
		Success: true, StatusCode: http.StatusCreated, Message: "Fetched Tags by Tag IDs",
		Results: ghl.TagsResults{Tags: tags, Count: len(tags)},
		TraceID: newTraceID(),
	})
}

// listAccounts answers GET /social-media-posting/{locationId}/accounts: the
// connected accounts and one group holding them all.
func (s *Simulator) listAccounts(w http.ResponseWriter, r *http.Request, c *call) {
	l := c.loc
	l.mu.RLock()
	accounts := slices.Clone(l.accounts)
	l.mu.RUnlock()
	if accounts == nil {
		accounts = []ghl.Account{}
	}
	groups := []ghl.AccountGroup{}
	if len(accounts) > 0 {
		ids := make([]string, len(accounts))
		for i, a := range accounts {
			ids[i] = a.ID
		}
		groups = append(groups, ghl.AccountGroup{ID: groupID(l.id), Name: "All accounts", AccountIDs: ids})
	}
	writeJSON(w, http.StatusOK, ghl.Envelope[ghl.AccountsResults]{
		Success: true, StatusCode: http.StatusOK, Message: "Fetched Accounts",
		Results: ghl.AccountsResults{Accounts: accounts, Groups: groups},
		TraceID: newTraceID(),
	})
}

// groupID derives a stable 24-hex group id from the location id.
func groupID(locationID string) string {
	return fmt.Sprintf("%016x%08x", fnv64(locationID, "group"), uint32(fnv64(locationID, "group", "low")))
}

// postFilterAllows reports whether a post with status passes the
// SearchPostDTO type filter.
func postFilterAllows(filter, status string) bool {
	switch filter {
	case "all", "recent":
		return status != "deleted"
	default:
		return status == filter
	}
}

// validPostFilter reports whether t is a SearchPostDTO type.
func validPostFilter(t string) bool {
	switch t {
	case "recent", "all", "scheduled", "draft", "failed", "in_review", "published", "in_progress", "deleted":
		return true
	}
	return false
}

// listPosts answers POST /social-media-posting/{locationId}/posts/list with
// 201: posts whose display date is within [fromDate, toDate], filtered by
// type (status), accounts and postType, newest first, paged by skip and
// limit. count is the number of posts in the page.
func (s *Simulator) listPosts(w http.ResponseWriter, r *http.Request, c *call) {
	var body struct {
		Type         flexString `json:"type"`
		Accounts     flexString `json:"accounts"`
		Skip         flexString `json:"skip"`
		Limit        flexString `json:"limit"`
		FromDate     flexString `json:"fromDate"`
		ToDate       flexString `json:"toDate"`
		IncludeUsers flexString `json:"includeUsers"`
		PostType     flexString `json:"postType"`
	}
	if _, berr := decodeBody(w, r, &body); berr != nil {
		berr.write(w)
		return
	}
	var missing []string
	for _, f := range []struct {
		name string
		v    flexString
	}{{"skip", body.Skip}, {"limit", body.Limit}, {"fromDate", body.FromDate}, {"toDate", body.ToDate}, {"includeUsers", body.IncludeUsers}} {
		if !f.v.Set {
			missing = append(missing, f.name+" must be a string")
		}
	}
	if len(missing) > 0 {
		writeUnprocessable(w, missing...)
		return
	}
	skip, err1 := strconv.Atoi(body.Skip.Value)
	limit, err2 := strconv.Atoi(body.Limit.Value)
	if err1 != nil || skip < 0 {
		writeUnprocessable(w, "skip must be a number string not less than 0")
		return
	}
	if err2 != nil || limit < 1 {
		writeUnprocessable(w, "limit must be a number string not less than 1")
		return
	}
	from, ok1 := parseDate(body.FromDate.Value)
	to, ok2 := parseDate(body.ToDate.Value)
	if !ok1 || !ok2 {
		writeBadRequest(w, "fromDate and toDate must be ISO 8601 dates")
		return
	}
	filter := "all"
	if body.Type.Value != "" {
		filter = body.Type.Value
	}
	if !validPostFilter(filter) {
		writeBadRequest(w, "type must be one of the following values: recent, all, scheduled, draft, failed, in_review, published, in_progress, deleted")
		return
	}
	switch body.PostType.Value {
	case "", "post", "story", "reel":
	default:
		writeBadRequest(w, "postType must be one of the following values: post, story, reel")
		return
	}
	var accounts []string
	for _, a := range strings.Split(body.Accounts.Value, ",") {
		if a = strings.TrimSpace(a); a != "" {
			accounts = append(accounts, a)
		}
	}
	withUser := body.IncludeUsers.Value == "true"

	l := c.loc
	var matched []ghl.Post
	l.mu.RLock()
	user := l.user
	for _, p := range l.posts {
		if !postFilterAllows(filter, p.Status) || p.DisplayDate == nil ||
			p.DisplayDate.Before(from) || p.DisplayDate.After(to) ||
			(body.PostType.Value != "" && p.Type != body.PostType.Value) ||
			(len(accounts) > 0 && !slices.Contains(accounts, p.AccountID)) {
			continue
		}
		matched = append(matched, clonePost(p))
	}
	l.mu.RUnlock()

	slices.SortStableFunc(matched, func(a, b ghl.Post) int {
		if c := b.DisplayDate.Compare(*a.DisplayDate); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	page := pageOf(matched, skip, limit)
	if withUser {
		for i := range page {
			u := user
			page[i].User = &u
		}
	}
	writeJSON(w, http.StatusCreated, ghl.Envelope[ghl.PostsResults]{
		Success: true, StatusCode: http.StatusCreated, Message: "Fetched Posts",
		Results: ghl.PostsResults{Posts: nonNil(page), Count: len(page)},
		TraceID: newTraceID(),
	})
}

// getPost answers GET /social-media-posting/{locationId}/posts/{id}.
func (s *Simulator) getPost(w http.ResponseWriter, r *http.Request, c *call) {
	id := r.PathValue("id")
	if !isObjectID(id) {
		writeBadRequest(w, msgBadObjectID)
		return
	}
	l := c.loc
	l.mu.RLock()
	p, ok := l.postByID[strings.ToLower(id)]
	var post ghl.Post
	if ok {
		post = clonePost(p)
	}
	l.mu.RUnlock()
	if !ok {
		writeNotFound(w, "Post not found")
		return
	}
	writeJSON(w, http.StatusOK, ghl.Envelope[ghl.PostResults]{
		Success: true, StatusCode: http.StatusOK, Message: "Fetched Post",
		Results: ghl.PostResults{Post: post}, TraceID: newTraceID(),
	})
}

// clonePost copies a post so it can be encoded outside the lock.
func clonePost(p *ghl.Post) ghl.Post {
	out := *p
	out.Tags = slices.Clone(p.Tags)
	out.AccountIDs = slices.Clone(p.AccountIDs)
	out.Media = slices.Clone(p.Media)
	if out.Tags == nil {
		out.Tags = []string{}
	}
	return out
}

// parseDate parses an ISO 8601 date-time or date.
func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// pageOf returns list[skip:skip+limit], clamped, for any non-negative skip
// and limit (no overflow).
func pageOf[T any](list []T, skip, limit int) []T {
	from := min(skip, len(list))
	return list[from : from+min(limit, len(list)-from)]
}

// nonNil returns list, or an empty slice for nil, so it encodes as [].
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
