package ghl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// sandbox is a simulator served over real HTTP, driven through its admin API.
type sandbox struct {
	t   testing.TB
	url string
	// tr checks every exchange against HighLevel's official OpenAPI files
	// and fails the test on a violation.
	tr *ghlspec.Transport
}

func newSandbox(t testing.TB) *sandbox {
	t.Helper()
	return newSandboxAt(t, nil)
}

// newSandboxAt is newSandbox with the simulator reading the time from now
// (nil: the real clock).
func newSandboxAt(t testing.TB, now func() time.Time) *sandbox {
	t.Helper()
	sim, err := ghlsim.New(ghlsim.Options{Seed: "empty", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &sandbox{t: t, url: srv.URL, tr: ghlspec.CheckingTransport(t, nil)}
}

// admin calls the admin API and decodes the answer into out; a status
// other than want (any 2xx when want is 0) fails the test.
func (s *sandbox) admin(method, path string, in, out any, want int) {
	s.t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			s.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want && (want != 0 || resp.StatusCode/100 != 2) {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

type accountSpec struct {
	Platform string `json:"platform"`
}

type contactSpec struct {
	ID   string   `json:"id,omitempty"`
	Tags []string `json:"tags"`
}

type locationSpec struct {
	Name       string        `json:"name,omitempty"`
	Timezone   string        `json:"timezone,omitempty"`
	SocialTags []string      `json:"socialTags,omitempty"`
	Accounts   []accountSpec `json:"accounts,omitempty"`
	Contacts   []contactSpec `json:"contacts,omitempty"`
}

// createLocation makes a location and returns its id and PIT.
func (s *sandbox) createLocation(spec locationSpec) (id, token string) {
	s.t.Helper()
	var out struct{ ID, Token string }
	s.admin(http.MethodPost, "/_sandbox/locations", spec, &out, http.StatusCreated)
	if out.ID == "" || !strings.HasPrefix(out.Token, "pit-") {
		s.t.Fatalf("created location %+v", out)
	}
	return out.ID, out.Token
}

func (s *sandbox) location(id string) ghlsim.LocationView {
	s.t.Helper()
	var out ghlsim.LocationView
	s.admin(http.MethodGet, "/_sandbox/locations/"+id, nil, &out, http.StatusOK)
	return out
}

func (s *sandbox) contactTags(loc, contactID string) []string {
	s.t.Helper()
	for _, c := range s.location(loc).Contacts {
		if c.ID == contactID {
			return c.Tags
		}
	}
	s.t.Fatalf("contact %s not in location %s", contactID, loc)
	return nil
}

type loggedRequest struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	Status   int    `json:"status"`
	Location string `json:"location"`
}

// requests returns the simulator's log of API requests for loc, or of
// all locations when loc is empty.
func (s *sandbox) requests(loc string) []loggedRequest {
	s.t.Helper()
	var out struct {
		Requests []loggedRequest `json:"requests"`
	}
	path := "/_sandbox/requests"
	if loc != "" {
		path += "?location=" + url.QueryEscape(loc)
	}
	s.admin(http.MethodGet, path, nil, &out, http.StatusOK)
	return out.Requests
}

// count returns how many logged requests have method and a path starting
// with prefix, and their statuses.
func count(reqs []loggedRequest, method, prefix string) (int, []int) {
	n, statuses := 0, []int(nil)
	for _, r := range reqs {
		if r.Method == method && strings.HasPrefix(r.Path, prefix) {
			n++
			statuses = append(statuses, r.Status)
		}
	}
	return n, statuses
}

func (s *sandbox) faults(f map[string]any) {
	s.t.Helper()
	s.admin(http.MethodPut, "/_sandbox/faults", f, nil, http.StatusOK)
}

func (s *sandbox) config(c map[string]any) {
	s.t.Helper()
	s.admin(http.MethodPut, "/_sandbox/config", c, nil, http.StatusOK)
}

// client returns a ghl.Client for the sandbox with a static token.
func (s *sandbox) client(token string, opts ghl.Options) *ghl.Client {
	s.t.Helper()
	opts.BaseURL = s.url
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: s.tr}
	}
	if token != "" {
		opts.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token})
	}
	if opts.InitialBackoff == 0 {
		opts.InitialBackoff = 5 * time.Millisecond
	}
	c, err := ghl.New(opts)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func tagNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("tag-%03d", i)
	}
	return out
}

func TestSimSocialTagsPaging(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	names := tagNames(137)
	loc, tok := sb.createLocation(locationSpec{SocialTags: names})
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	tags, err := c.AllSocialTags(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range tags {
		got = append(got, tg.Tag)
		if tg.LocationID != loc || len(tg.ID) != 24 {
			t.Errorf("tag %+v", tg)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("AllSocialTags names (-want +got):\n%s", diff)
	}
	var queries []string
	for _, r := range sb.requests(loc) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.Path, "/social-media-posting/"+loc+"/tags") {
			u, _ := url.Parse(r.Path)
			queries = append(queries, u.Query().Get("skip")+"/"+u.Query().Get("limit"))
			if r.Status != http.StatusOK {
				t.Errorf("list status %d", r.Status)
			}
		}
	}
	// skip 0 is not sent: HighLevel's default applies.
	if diff := cmp.Diff([]string{"/50", "50/50", "100/50"}, queries); diff != "" {
		t.Errorf("pages requested as skip/limit (-want +got):\n%s", diff)
	}

	page, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{Skip: 130, Limit: 50})
	if err != nil || len(page.Tags) != 7 {
		t.Errorf("last page: %d tags, %v; want 7", len(page.Tags), err)
	}
	found, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{SearchText: "TAG-13"})
	if err != nil || len(found.Tags) != 7 {
		t.Errorf("search tag-13: %d tags, %v; want 7 (130..136)", len(found.Tags), err)
	}
}

func TestSimTagDetailsBatching(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: tagNames(137)})
	c := sb.client(tok, ghl.Options{})
	state := sb.location(loc)
	want := map[string]string{}
	var ids []string
	for _, tg := range state.SocialTags {
		want[tg.ID] = tg.Tag
		ids = append(ids, tg.ID)
	}
	if len(ids) != 137 {
		t.Fatalf("admin API lists %d tags, want 137", len(ids))
	}
	ids = append(ids, ids[0]) // duplicates are sent once

	tags, err := c.TagDetails(context.Background(), loc, ids)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range tags {
		got[tg.ID] = tg.Tag
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TagDetails (-want +got):\n%s", diff)
	}
	n, statuses := count(sb.requests(loc), http.MethodPost, "/social-media-posting/"+loc+"/tags/details")
	if n != 2 || !slices.Equal(statuses, []int{201, 201}) {
		t.Errorf("tag details calls: %d with statuses %v, want 2 × 201 (100 + 37 ids)", n, statuses)
	}
}

func TestSimAccountsAndStatisticsChunking(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	platforms := []string{"facebook", "instagram", "linkedin", "google", "tiktok"}
	var accounts []accountSpec
	for i := range 103 {
		accounts = append(accounts, accountSpec{Platform: platforms[i%len(platforms)]})
	}
	loc, tok := sb.createLocation(locationSpec{Accounts: accounts})
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	res, err := c.Accounts(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	state := sb.location(loc)
	var wantProfiles, gotProfiles []string
	for _, a := range state.Accounts {
		wantProfiles = append(wantProfiles, a.ProfileID)
	}
	for _, a := range res.Accounts {
		gotProfiles = append(gotProfiles, a.ProfileID)
	}
	if len(gotProfiles) != 103 || !cmp.Equal(wantProfiles, gotProfiles) {
		t.Fatalf("Accounts profile ids %d, want the 103 of the admin API", len(gotProfiles))
	}

	chunks, err := c.Statistics(ctx, loc, gotProfiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || len(chunks[0].ProfileIDs) != 100 || len(chunks[1].ProfileIDs) != 3 {
		t.Fatalf("chunks: %d (%v)", len(chunks), chunks)
	}
	for i, ch := range chunks {
		if len(ch.Statistics.DayRange) != 7 {
			t.Errorf("chunk %d dayRange %v", i, ch.Statistics.DayRange)
		}
	}
	var statCalls []loggedRequest
	for _, r := range sb.requests(loc) {
		if r.Method == http.MethodPost && strings.HasPrefix(r.Path, "/social-media-posting/statistics") {
			statCalls = append(statCalls, r)
		}
	}
	if len(statCalls) != 2 {
		t.Fatalf("statistics calls %+v, want 2", statCalls)
	}
	for _, r := range statCalls {
		u, _ := url.Parse(r.Path)
		if u.Query().Get("locationId") != loc || r.Status != http.StatusCreated {
			t.Errorf("statistics call %+v: want locationId=%s in the query and 201", r, loc)
		}
	}

	one, err := c.Statistics(ctx, loc, gotProfiles[:2], []string{"facebook"})
	if err != nil || len(one) != 1 {
		t.Errorf("two profiles: %d chunks, %v", len(one), err)
	}
}

func TestSimPosts(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: []string{"launch", "promo"}, Accounts: []accountSpec{{Platform: "facebook"}}})
	state := sb.location(loc)
	tagIDs := []string{state.SocialTags[0].ID, state.SocialTags[1].ID}
	var created struct {
		ID string `json:"_id"`
	}
	sb.admin(http.MethodPost, "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": tagIDs, "platform": "facebook"}, &created, http.StatusCreated)
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	now := time.Now().UTC()
	list, err := c.ListPosts(ctx, loc, ghl.ListPostsRequest{
		Limit:    "50",
		FromDate: now.AddDate(0, -3, 0).Format(time.RFC3339),
		ToDate:   now.AddDate(0, 3, 0).Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := slices.IndexFunc(list.Posts, func(p ghl.Post) bool { return p.ID == created.ID })
	if idx < 0 {
		t.Fatalf("post %s not listed among %d posts", created.ID, len(list.Posts))
	}
	post, err := c.GetPost(ctx, loc, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(post.Tags, tagIDs) || post.Platform != "facebook" || post.LocationID != loc {
		t.Errorf("GetPost = tags %v platform %q location %q", post.Tags, post.Platform, post.LocationID)
	}
	_, listStatus := count(sb.requests(loc), http.MethodPost, "/social-media-posting/"+loc+"/posts/list")
	_, getStatus := count(sb.requests(loc), http.MethodGet, "/social-media-posting/"+loc+"/posts/")
	if !slices.Equal(listStatus, []int{201}) || !slices.Equal(getStatus, []int{200}) {
		t.Errorf("statuses: list %v get %v, want 201 and 200", listStatus, getStatus)
	}
}

func TestSimContactTags(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{Contacts: []contactSpec{{Tags: []string{"old"}}}})
	cid := sb.location(loc).Contacts[0].ID
	c := sb.client(tok, ghl.Options{}).ForLocation(loc, nil)
	ctx := context.Background()

	if _, err := c.AddContactTags(ctx, cid, []string{"vip", "launch"}); err != nil {
		t.Fatal(err)
	}
	// Adding again is harmless: the retry policy relies on it.
	if _, err := c.AddContactTags(ctx, cid, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	got := sb.contactTags(loc, cid)
	slices.Sort(got)
	if diff := cmp.Diff([]string{"launch", "old", "vip"}, got); diff != "" {
		t.Errorf("tags after add (-want +got):\n%s", diff)
	}
	if _, err := c.RemoveContactTags(ctx, cid, []string{"old", "launch"}); err != nil {
		t.Fatal(err)
	}
	if got := sb.contactTags(loc, cid); !cmp.Equal(got, []string{"vip"}) {
		t.Errorf("tags after remove = %v, want [vip]", got)
	}
	_, adds := count(sb.requests(loc), http.MethodPost, "/contacts/"+cid+"/tags")
	_, removes := count(sb.requests(loc), http.MethodDelete, "/contacts/"+cid+"/tags")
	if !slices.Equal(adds, []int{201, 201}) || !slices.Equal(removes, []int{200}) {
		t.Errorf("statuses: add %v remove %v, want 201s and 200", adds, removes)
	}

	res, err := c.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: loc, PageLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 || len(res.Contacts) != 1 || res.Contacts[0].ID != cid {
		t.Errorf("SearchContacts = %+v", res)
	}
}

func TestSimBulkTagsPartialFailure(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{Contacts: []contactSpec{{Tags: []string{}}, {Tags: []string{}}, {Tags: []string{}}}})
	state := sb.location(loc)
	good1, good2, deleted := state.Contacts[0].ID, state.Contacts[1].ID, state.Contacts[2].ID
	sb.admin(http.MethodDelete, "/_sandbox/locations/"+loc+"/contacts/"+deleted, nil, nil, 0)
	const invalid = "abcdef"
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	resp, err := c.BulkAddTags(ctx, loc, []string{good1, deleted, invalid, good2}, []string{"segment:vip"})
	var be *ghl.BulkError
	if !errors.As(err, &be) || !errors.Is(err, ghl.ErrPartialFailure) {
		t.Fatalf("err = %v, want *BulkError", err)
	}
	failed := map[string]string{}
	for _, f := range be.Failures {
		failed[f.ContactID] = f.Message
	}
	if len(failed) != 2 || failed[deleted] == "" || failed[invalid] == "" {
		t.Errorf("failures %v, want the deleted and the invalid contact, with messages", failed)
	}
	if len(resp.Responses) != 4 || resp.ErrorCount != 2 || len(resp.Failed()) != 2 {
		t.Errorf("response %+v: want every contact's outcome and errorCount 2", resp)
	}
	for _, id := range []string{good1, good2} {
		if got := sb.contactTags(loc, id); !cmp.Equal(got, []string{"segment:vip"}) {
			t.Errorf("contact %s tags %v after bulk add", id, got)
		}
	}
	for _, msg := range []string{deleted, invalid} {
		if !strings.Contains(err.Error(), msg) {
			t.Errorf("error %q does not name %s", err, msg)
		}
	}

	if _, err := c.BulkRemoveTags(ctx, loc, []string{good1, good2}, []string{"segment:vip"}); err != nil {
		t.Fatalf("bulk remove: %v", err)
	}
	if got := sb.contactTags(loc, good1); len(got) != 0 {
		t.Errorf("tags after bulk remove %v", got)
	}
	reqs := sb.requests(loc)
	_, add := count(reqs, http.MethodPost, "/contacts/bulk/tags/update/add")
	_, remove := count(reqs, http.MethodPost, "/contacts/bulk/tags/update/remove")
	if !slices.Equal(add, []int{201}) || !slices.Equal(remove, []int{201}) {
		t.Errorf("bulk statuses: add %v remove %v, want 201 each", add, remove)
	}
}

// GET /locations/{locationId} gives the sub-account's name and time zone,
// in the shape of the official files (the sandbox's transport checks it).
func TestSimLocationDetails(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{Name: "Harbour Dental", Timezone: "Australia/Sydney"})
	got, err := sb.client(tok, ghl.Options{}).Location(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != loc || got.Name != "Harbour Dental" || got.Timezone != "Australia/Sydney" {
		t.Errorf("Location(%s) = %+v; want its name and time zone", loc, got)
	}
	other, _ := sb.createLocation(locationSpec{})
	if _, err := sb.client(tok, ghl.Options{}).Location(context.Background(), other); err == nil {
		t.Errorf("Location of another location's id with this token: no error")
	}
}

func TestSimLocationTagsAndCustomValues(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	c := sb.client(tok, ghl.Options{})
	ctx := context.Background()

	tag, err := c.CreateLocationTag(ctx, loc, "segment:vip")
	if err != nil {
		t.Fatal(err)
	}
	if tag.ID == "" || tag.Name != "segment:vip" || tag.LocationID != loc {
		t.Errorf("created tag %+v", tag)
	}
	tags, err := c.LocationTags(ctx, loc)
	if err != nil || !slices.ContainsFunc(tags, func(lt ghl.LocationTag) bool { return lt.ID == tag.ID }) {
		t.Errorf("LocationTags = %v, %v; want the new tag", tags, err)
	}
	if n := len(sb.location(loc).LocationTags); n != len(tags) {
		t.Errorf("admin API has %d location tags, client saw %d", n, len(tags))
	}

	cv, err := c.CreateCustomValue(ctx, loc, "socialsync_best_day", "Tuesday")
	if err != nil {
		t.Fatal(err)
	}
	upd, err := c.UpdateCustomValue(ctx, loc, cv.ID, "socialsync_best_day", "Friday")
	if err != nil || upd.ID != cv.ID || upd.Value != "Friday" {
		t.Fatalf("UpdateCustomValue = %+v, %v", upd, err)
	}
	values, err := c.CustomValues(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(values, func(v ghl.CustomValue) bool { return v.ID == cv.ID })
	if i < 0 || values[i].Value != "Friday" {
		t.Errorf("CustomValues = %+v", values)
	}
	admin := sb.location(loc).CustomValues
	if !slices.ContainsFunc(admin, func(v ghlsim.CustomValueView) bool {
		return v.Name == "socialsync_best_day" && v.Value == "Friday"
	}) {
		t.Errorf("admin API custom values %+v", admin)
	}
	reqs := sb.requests(loc)
	_, tagCreate := count(reqs, http.MethodPost, "/locations/"+loc+"/tags")
	_, cvCreate := count(reqs, http.MethodPost, "/locations/"+loc+"/customValues")
	_, cvUpdate := count(reqs, http.MethodPut, "/locations/"+loc+"/customValues/")
	if !slices.Equal(tagCreate, []int{200}) || !slices.Equal(cvCreate, []int{201}) || !slices.Equal(cvUpdate, []int{200}) {
		t.Errorf("statuses: tag create %v (want 200), value create %v (201), update %v (200)", tagCreate, cvCreate, cvUpdate)
	}
}

func TestSimErrorClasses(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	locA, tokA := sb.createLocation(locationSpec{})
	locB, _ := sb.createLocation(locationSpec{})
	ctx := context.Background()

	tests := []struct {
		name   string
		call   func() error
		status int
		class  ghl.Kind
	}{
		{"401 garbage token", func() error {
			_, err := sb.client("pit-garbage", ghl.Options{}).Accounts(ctx, locA)
			return err
		}, 401, ghl.KindAuth},
		{"403 other location", func() error {
			_, err := sb.client(tokA, ghl.Options{}).Accounts(ctx, locB)
			return err
		}, 403, ghl.KindAuth},
		{"422 invalid body", func() error {
			_, err := sb.client(tokA, ghl.Options{}).ListPosts(ctx, locA, ghl.ListPostsRequest{Limit: "0", FromDate: "2026-01-01", ToDate: "2026-02-01"})
			return err
		}, 422, ghl.KindPermanent},
		{"404 unknown post", func() error {
			_, err := sb.client(tokA, ghl.Options{}).GetPost(ctx, locA, "65fbdcfecc884f07e645ea8b")
			return err
		}, 404, ghl.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *ghl.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *ghl.Error", err)
			}
			if e.StatusCode != tt.status || e.Kind != tt.class || e.Attempts != 1 || len(e.Messages) == 0 {
				t.Errorf("got status %d class %v attempts %d messages %q; want %d %v, 1 attempt", e.StatusCode, e.Kind, e.Attempts, e.Messages, tt.status, tt.class)
			}
		})
	}
	if n := len(sb.requests(locA)); n < 3 {
		t.Errorf("request log for %s has %d entries", locA, n)
	}
}

func TestSimRateLimited(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	sb.config(map[string]any{"rateLimit": map[string]any{"max": 2, "window": "1s", "daily": 200000}})
	ctx := context.Background()

	// Without retries the 429 comes back with its Retry-After and headers.
	bare := sb.client(tok, ghl.Options{MaxRetries: -1})
	var err error
	for range 3 {
		if _, err = bare.Accounts(ctx, loc); err != nil {
			break
		}
	}
	wait, limited := ghl.IsRateLimited(err)
	var e *ghl.Error
	if !limited || !errors.As(err, &e) || wait <= 0 || wait > time.Second {
		t.Fatalf("third call: err = %v, want 429 with Retry-After in (0, 1s]", err)
	}
	if !e.RateLimit.Present || e.RateLimit.Max != 2 || e.RateLimit.Remaining != 0 || e.RateLimit.Interval != time.Second {
		t.Errorf("rate limit on the error: %+v", e.RateLimit)
	}

	// With retries the client waits Retry-After and succeeds.
	var mu sync.Mutex
	type seen struct {
		at     time.Time
		status int
		retry  time.Duration
	}
	var log []seen
	c := sb.client(tok, ghl.Options{OnResponse: func(ri ghl.ResponseInfo) {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, seen{time.Now(), ri.StatusCode, 0})
	}})
	start := time.Now()
	for i := range 4 {
		if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("4 calls at 2 a second took %v", d)
	}
	mu.Lock()
	defer mu.Unlock()
	n429 := 0
	for i, s := range log {
		if s.status != http.StatusTooManyRequests {
			continue
		}
		n429++
		if i+1 >= len(log) {
			t.Fatalf("429 was the last attempt")
		}
		// Retry-After is whole seconds, at least 1.
		if gap := log[i+1].at.Sub(s.at); gap < 900*time.Millisecond {
			t.Errorf("retried %v after a 429, before its Retry-After", gap)
		}
	}
	if n429 == 0 {
		t.Errorf("no 429 seen; attempts %+v", log)
	}
}

func TestSimServerErrorsRetried(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: tagNames(3)})
	ctx := context.Background()
	sb.faults(map[string]any{"rate500": 0.5, "seed": 7})
	c := sb.client(tok, ghl.Options{MaxRetries: 8})
	for i := range 6 {
		if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	// Injected faults are logged without a location (the simulator rolls
	// them before it authenticates), so read the whole log by path.
	tagsPath := "/social-media-posting/" + loc + "/tags"
	_, st := count(sb.requests(""), http.MethodGet, tagsPath)
	if !slices.Contains(st, 500) {
		t.Errorf("statuses %v: want some 500s, retried to success", st)
	}
	if n200 := len(slices.DeleteFunc(slices.Clone(st), func(s int) bool { return s != 200 })); n200 != 6 {
		t.Errorf("%d successes, want 6", n200)
	}

	// Always failing: bounded attempts, then a retryable error.
	sb.faults(map[string]any{"rate500": 1.0, "seed": 1})
	before, _ := count(sb.requests(""), http.MethodGet, tagsPath)
	_, err := sb.client(tok, ghl.Options{MaxRetries: 2}).ListSocialTags(ctx, loc, ghl.SearchOpts{})
	after, _ := count(sb.requests(""), http.MethodGet, tagsPath)
	if !ghl.IsRetryable(err) || !errors.Is(err, ghl.ErrRetryable) || after-before != 3 {
		t.Errorf("err = %v after %d attempts, want retryable after 3", err, after-before)
	}

	// Resets and timeouts are transient too.
	sb.faults(map[string]any{"resetRate": 0.5, "seed": 3})
	for i := range 4 {
		if _, err := c.Accounts(ctx, loc); err != nil {
			t.Fatalf("with resets, call %d: %v", i, err)
		}
	}
}

func TestSimContextCancellation(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{})
	sb.faults(map[string]any{"timeoutRate": 1.0, "seed": 1})
	c := sb.client(tok, ghl.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Accounts(ctx, loc)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("returned after %v, want promptly after the 300ms deadline", elapsed)
	}
}

// authorize runs the browser leg of the code flow: chooselocation
// auto-approves and redirects with a code.
func (s *sandbox) authorize(app sandboxApp, loc, redirect, state string) string {
	s.t.Helper()
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {app.ClientID},
		"redirect_uri":  {redirect},
		"scope":         {"socialplanner/tag.readonly contacts.write oauth.readonly oauth.write"},
		"state":         {state},
	}
	if loc != "" {
		q.Set("location_id", loc)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(s.url + "/oauth/chooselocation?" + q.Encode())
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		s.t.Fatalf("chooselocation: status %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(u.String(), redirect) || u.Query().Get("state") != state || u.Query().Get("code") == "" {
		s.t.Fatalf("redirected to %q", resp.Header.Get("Location"))
	}
	return u.Query().Get("code")
}

type sandboxApp struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	CompanyID    string `json:"companyId"`
}

func (s *sandbox) app() sandboxApp {
	s.t.Helper()
	var out struct {
		Apps []sandboxApp `json:"apps"`
	}
	s.admin(http.MethodGet, "/_sandbox/apps", nil, &out, http.StatusOK)
	if len(out.Apps) == 0 || out.Apps[0].ClientSecret == "" {
		s.t.Fatalf("apps %+v", out.Apps)
	}
	return out.Apps[0]
}

func TestSimOAuthRefreshRotation(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, _ := sb.createLocation(locationSpec{SocialTags: []string{"a", "b"}})
	app := sb.app()
	creds := ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	const redirect = "http://localhost:7777/callback"
	oc := sb.client("", ghl.Options{})
	ctx := context.Background()

	code := sb.authorize(app, loc, redirect, "st-1")
	tok1, err := oc.ExchangeCode(ctx, creds, code, redirect, ghl.UserTypeLocation)
	if err != nil {
		t.Fatal(err)
	}
	if tok1.AccessToken == "" || tok1.RefreshToken == "" || tok1.LocationID != loc || tok1.ExpiresIn <= 0 {
		t.Fatalf("exchanged token %v", tok1)
	}
	if _, err := oc.ExchangeCode(ctx, creds, code, redirect, ghl.UserTypeLocation); !ghl.IsAuth(err) {
		t.Errorf("code reuse: err = %v, want auth", err)
	}

	tags, err := sb.client(tok1.AccessToken, ghl.Options{}).AllSocialTags(ctx, loc)
	if err != nil || len(tags) != 2 {
		t.Fatalf("with the OAuth token: %d tags, %v", len(tags), err)
	}

	tok2, err := oc.RefreshToken(ctx, creds, tok1.RefreshToken, ghl.UserTypeLocation)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == tok1.RefreshToken || tok2.AccessToken == tok1.AccessToken {
		t.Fatalf("refresh did not rotate")
	}
	_, err = oc.RefreshToken(ctx, creds, tok1.RefreshToken, ghl.UserTypeLocation)
	var e *ghl.Error
	if !errors.As(err, &e) || e.Kind != ghl.KindAuth || e.Code != "invalid_grant" || e.StatusCode != http.StatusBadRequest {
		t.Fatalf("reused refresh token: err = %v, want 400 invalid_grant, KindAuth", err)
	}
	if e.Attempts != 1 {
		t.Errorf("invalid_grant retried: %d attempts", e.Attempts)
	}
	for _, secret := range []string{tok1.RefreshToken, app.ClientSecret} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("secret in error %q", err)
		}
	}
	if _, err := oc.RefreshToken(ctx, creds, tok2.RefreshToken, ghl.UserTypeLocation); err != nil {
		t.Errorf("the rotated refresh token: %v", err)
	}
	if _, err := oc.RefreshToken(ctx, ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: "wrong"}, tok2.RefreshToken, ghl.UserTypeLocation); !ghl.IsAuth(err) {
		t.Errorf("wrong client secret: err = %v, want auth", err)
	}
}

func TestSimAgencyTokens(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, _ := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	app := sb.app()
	creds := ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	const redirect = "http://localhost:7777/callback"
	ctx := context.Background()

	code := sb.authorize(app, "", redirect, "agency")
	company, err := sb.client("", ghl.Options{}).ExchangeCode(ctx, creds, code, redirect, ghl.UserTypeCompany)
	if err != nil {
		t.Fatal(err)
	}
	if company.UserType != ghl.UserTypeCompany || company.CompanyID != app.CompanyID {
		t.Fatalf("company token %v", company)
	}
	agency := sb.client(company.AccessToken, ghl.Options{})
	appID, _, _ := strings.Cut(app.ClientID, "-")
	installed, err := agency.InstalledLocations(ctx, app.CompanyID, appID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(installed, func(l ghl.InstalledLocation) bool { return l.ID == loc && l.IsInstalled }) {
		t.Errorf("installed locations %+v lack %s", installed, loc)
	}
	lt, err := agency.LocationToken(ctx, app.CompanyID, loc)
	if err != nil {
		t.Fatal(err)
	}
	if lt.LocationID != loc || lt.AccessToken == "" {
		t.Fatalf("location token %v", lt)
	}
	if _, err := sb.client(lt.AccessToken, ghl.Options{}).AllSocialTags(ctx, loc); err != nil {
		t.Errorf("with the minted location token: %v", err)
	}
	// A location token is not an agency token.
	if _, err := sb.client(lt.AccessToken, ghl.Options{}).LocationToken(ctx, app.CompanyID, loc); !ghl.IsAuth(err) {
		t.Errorf("location token on /oauth/locationToken: err = %v, want auth", err)
	}
}

// The simulator's clock runs from noon: a midnight UTC between the calls
// would start HighLevel's daily count again.
func TestSimRateLimitHeadersDelivered(t *testing.T) {
	t.Parallel()
	noon, start := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC), time.Now()
	sb := newSandboxAt(t, func() time.Time { return noon.Add(time.Since(start)) })
	loc, tok := sb.createLocation(locationSpec{SocialTags: []string{"a"}})
	var mu sync.Mutex
	var infos []ghl.ResponseInfo
	c := sb.client(tok, ghl.Options{OnResponse: func(ri ghl.ResponseInfo) {
		mu.Lock()
		defer mu.Unlock()
		infos = append(infos, ri)
	}})
	ctx := context.Background()
	for range 3 {
		if _, err := c.ListSocialTags(ctx, loc, ghl.SearchOpts{}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(infos) != 3 {
		t.Fatalf("%d OnResponse calls, want 3", len(infos))
	}
	for i, ri := range infos {
		rl := ri.RateLimit
		if !rl.Present || rl.Max != 100 || rl.Interval != 10*time.Second || rl.DailyLimit != 200000 {
			t.Errorf("attempt %d rate limit %+v", i, rl)
		}
		if rl.Remaining != 100-(i+1) || rl.DailyRemaining != 200000-(i+1) {
			t.Errorf("attempt %d remaining %d / daily %d", i, rl.Remaining, rl.DailyRemaining)
		}
		if ri.Location != loc || ri.Method != http.MethodGet || ri.Path != "/social-media-posting/{locationId}/tags" || ri.StatusCode != 200 || ri.Attempt != 1 || ri.Err != nil {
			t.Errorf("info %+v", ri)
		}
	}
	last, ok := c.LastRateLimit(loc)
	if !ok || last != infos[2].RateLimit {
		t.Errorf("LastRateLimit = %+v, %v; want %+v", last, ok, infos[2].RateLimit)
	}
}

func TestSimNoTokenInSpansOrErrors(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	loc, tok := sb.createLocation(locationSpec{SocialTags: []string{"a"}, Contacts: []contactSpec{{Tags: []string{}}}})
	app := sb.app()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	opts := ghl.Options{TracerProvider: tp, MaxRetries: 1}
	c := sb.client(tok, opts).ForLocation(loc, nil)
	ctx := context.Background()

	var errs []error
	keep := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := c.AllSocialTags(ctx, loc)
	keep(err)
	_, err = c.AddContactTags(ctx, "nosuchcontact0000000", []string{"x"})
	keep(err)
	_, err = sb.client("pit-not-a-real-token-0000", opts).Accounts(ctx, loc)
	keep(err)
	creds := ghl.AppCredentials{ClientID: app.ClientID, ClientSecret: app.ClientSecret}
	_, err = sb.client("", opts).RefreshToken(ctx, creds, "refresh-never-issued-123", ghl.UserTypeLocation)
	keep(err)
	code := sb.authorize(app, loc, "http://localhost/cb", "s")
	issued, err := sb.client("", opts).ExchangeCode(ctx, creds, code, "http://localhost/cb", ghl.UserTypeLocation)
	if err != nil {
		t.Fatal(err)
	}
	sb.faults(map[string]any{"rate500": 1.0, "seed": 2})
	_, err = sb.client(issued.AccessToken, opts).Accounts(ctx, loc)
	keep(err)
	if len(errs) != 4 {
		t.Fatalf("%d failing calls, want 4: %v", len(errs), errs)
	}

	spans := exp.GetSpans()
	if len(spans) < 6 {
		t.Fatalf("%d spans", len(spans))
	}
	var dump strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&dump, "%s %s\n", s.Name, s.Status.Description)
		kvs := slices.Clone(s.Attributes)
		for _, e := range s.Events {
			dump.WriteString(e.Name + "\n")
			kvs = append(kvs, e.Attributes...)
		}
		for _, kv := range kvs {
			fmt.Fprintf(&dump, "%s=%s\n", kv.Key, kv.Value.Emit())
		}
		if !slices.ContainsFunc(s.Attributes, func(kv attribute.KeyValue) bool { return kv.Key == "url.template" }) {
			t.Errorf("span %q has no url.template", s.Name)
		}
	}
	for _, e := range errs {
		dump.WriteString(e.Error() + "\n")
	}
	secrets := []string{tok, "pit-not-a-real-token-0000", app.ClientSecret, "refresh-never-issued-123", code, issued.AccessToken, issued.RefreshToken}
	for _, s := range secrets {
		if strings.Contains(dump.String(), s) {
			t.Errorf("secret %q appears in spans or errors:\n%s", s, dump.String())
		}
	}
}
