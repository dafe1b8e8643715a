package ghlsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// liveTags returns the names of a location's tags that are not deleted,
// from the admin API.
func (e *env) liveTags(id string) []string {
	e.t.Helper()
	var names []string
	for _, t := range e.detail(id).SocialTags {
		if !t.Deleted {
			names = append(names, t.Tag)
		}
	}
	return names
}

func TestListSocialTagsPaging(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	want := e.liveTags(loc.ID)
	if len(want) < 50 {
		t.Fatalf("first demo location has %d live tags, want many to page through", len(want))
	}
	for _, limit := range []int{7, 50, 1000} {
		t.Run("limit "+strconv.Itoa(limit), func(t *testing.T) {
			var got []string
			for skip := 0; ; skip += limit {
				var env ghl.Envelope[ghl.TagsResults]
				e.api("GET", "/social-media-posting/"+loc.ID+"/tags?skip="+strconv.Itoa(skip)+"&limit="+strconv.Itoa(limit), loc.Token, nil).
					want(t, http.StatusOK).decode(t, &env)
				if !env.Success || env.StatusCode != 200 || env.Message != "Fetched Tags by Location ID" || env.TraceID == "" {
					t.Fatalf("envelope = %+v", env)
				}
				if env.Results.Count != len(env.Results.Tags) {
					t.Fatalf("count = %d for a page of %d", env.Results.Count, len(env.Results.Tags))
				}
				for _, tag := range env.Results.Tags {
					if tag.Deleted || tag.LocationID != loc.ID || !isObjectID(tag.ID) || tag.CreatedAt.IsZero() {
						t.Fatalf("tag %+v", tag)
					}
					got = append(got, tag.Tag)
				}
				if len(env.Results.Tags) < limit {
					break
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("paged tags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestListSocialTagsQuery(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"

	var all ghl.Envelope[ghl.TagsResults]
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK).decode(t, &all)
	if len(all.Results.Tags) != defaultTagLimit {
		t.Errorf("no limit gave %d tags, want the default %d", len(all.Results.Tags), defaultTagLimit)
	}

	var wantSearch []string
	for _, name := range e.liveTags(loc.ID) {
		if strings.Contains(strings.ToLower(name), "sale") {
			wantSearch = append(wantSearch, name)
		}
	}
	var found ghl.Envelope[ghl.TagsResults]
	e.api("GET", path+"?searchText=SALE&limit=500", loc.Token, nil).want(t, http.StatusOK).decode(t, &found)
	var got []string
	for _, tag := range found.Results.Tags {
		got = append(got, tag.Tag)
	}
	if diff := cmp.Diff(wantSearch, got); diff != "" {
		t.Errorf("searchText=SALE (-want +got):\n%s", diff)
	}

	for _, q := range []string{"?skip=-1", "?limit=abc", "?limit=0"} {
		e.api("GET", path+q, loc.Token, nil).want(t, http.StatusUnprocessableEntity)
	}
}

func TestSocialTagDetails(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	d := e.detail(loc.ID)
	var deleted TagView
	for _, tag := range d.SocialTags {
		if tag.Deleted {
			deleted = tag
		}
	}
	if deleted.ID == "" {
		t.Fatal("the first demo location has no deleted tag")
	}
	path := "/social-media-posting/" + loc.ID + "/tags/details"
	ids := []string{d.SocialTags[3].ID, "000000000000000000000000", deleted.ID, d.SocialTags[3].ID}

	var env ghl.Envelope[ghl.TagsResults]
	e.api("POST", path, loc.Token, ghl.TagDetailsRequest{TagIDs: ids}).want(t, http.StatusCreated).decode(t, &env)
	if !env.Success || env.StatusCode != 201 || env.Message != "Fetched Tags by Tag IDs" {
		t.Errorf("envelope = %+v", env)
	}
	var got []TagView
	for _, tag := range env.Results.Tags {
		got = append(got, TagView{ID: tag.ID, Tag: tag.Tag, Deleted: tag.Deleted})
	}
	if diff := cmp.Diff([]TagView{d.SocialTags[3], deleted}, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if env.Results.Count != 2 {
		t.Errorf("count = %d, want 2", env.Results.Count)
	}

	e.api("POST", path, loc.Token, map[string]any{"tagIds": []string{"abc"}}).wantError(t, http.StatusBadRequest, "24 hex")
	e.api("POST", path, loc.Token, map[string]any{}).wantError(t, http.StatusUnprocessableEntity, "tagIds")
	e.api("POST", path, loc.Token, map[string]any{"tagIds": "x"}).wantError(t, http.StatusUnprocessableEntity, "tagIds")
	e.api("POST", path, loc.Token, `{"tagIds": [`).wantError(t, http.StatusBadRequest, "JSON")
	// Another location's tag is not found here.
	other := e.detail(e.loc(1).ID).SocialTags[0].ID
	e.api("POST", path, loc.Token, ghl.TagDetailsRequest{TagIDs: []string{other}}).want(t, http.StatusCreated).decode(t, &env)
	if len(env.Results.Tags) != 0 {
		t.Errorf("another location's tag was returned: %+v", env.Results.Tags)
	}
}

func TestListAccounts(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(1)
	var env ghl.Envelope[ghl.AccountsResults]
	r := e.api("GET", "/social-media-posting/"+loc.ID+"/accounts", loc.Token, nil).want(t, http.StatusOK)
	r.decode(t, &env)
	if !env.Success || env.StatusCode != 200 || env.Message != "Fetched Accounts" {
		t.Errorf("envelope = %+v", env)
	}
	var got []AccountView
	for _, a := range env.Results.Accounts {
		got = append(got, AccountView{ID: a.ID, ProfileID: a.ProfileID, Platform: a.Platform, Name: a.Name})
		if !isObjectID(a.ProfileID) || !strings.Contains(a.ID, "_"+loc.ID+"_") || a.Type == "" || a.IsExpired {
			t.Errorf("account %+v", a)
		}
	}
	if diff := cmp.Diff(e.detail(loc.ID).Accounts, got); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if len(env.Results.Groups) != 1 || len(env.Results.Groups[0].AccountIDs) != len(got) {
		t.Errorf("groups = %+v", env.Results.Groups)
	}
	// Enum-like fields are strings, as the spec's examples show.
	if m := r.object(t); m["results"].(map[string]any)["accounts"].([]any)[0].(map[string]any)["type"] == nil {
		t.Error("account type missing")
	}
}

func TestListPosts(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/posts/list"
	from := testStart().Add(-60 * 24 * time.Hour).Format(time.RFC3339)
	to := testStart().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	list := func(t *testing.T, body map[string]any) ghl.Envelope[ghl.PostsResults] {
		t.Helper()
		var env ghl.Envelope[ghl.PostsResults]
		e.api("POST", path, loc.Token, body).want(t, http.StatusCreated).decode(t, &env)
		if !env.Success || env.StatusCode != 201 || env.Message != "Fetched Posts" || env.Results.Count != len(env.Results.Posts) {
			t.Fatalf("envelope = %+v", env)
		}
		return env
	}

	t.Run("pages cover all posts, newest first", func(t *testing.T) {
		var all []ghl.Post
		for skip := 0; ; skip += 25 {
			env := list(t, map[string]any{"skip": strconv.Itoa(skip), "limit": "25", "fromDate": from, "toDate": to, "includeUsers": "false"})
			all = append(all, env.Results.Posts...)
			if len(env.Results.Posts) < 25 {
				break
			}
		}
		if len(all) < 30 {
			t.Fatalf("only %d posts", len(all))
		}
		for i, p := range all {
			if p.Status == "deleted" || p.LocationID != loc.ID || len(p.Tags) == 0 || p.User != nil || p.Type == "" {
				t.Errorf("post %+v", p)
			}
			if i > 0 && p.DisplayDate.After(*all[i-1].DisplayDate) {
				t.Errorf("post %d is newer than post %d", i, i-1)
			}
		}
	})
	t.Run("numbers, type filter and users", func(t *testing.T) {
		env := list(t, map[string]any{"skip": 0, "limit": 500, "fromDate": from, "toDate": to, "includeUsers": "true", "type": "published"})
		if len(env.Results.Posts) == 0 {
			t.Fatal("no published posts")
		}
		for _, p := range env.Results.Posts {
			if p.Status != "published" || p.User == nil || p.User.ID == "" || p.PublishedAt == nil {
				t.Errorf("post %+v", p)
			}
		}
	})
	t.Run("date window", func(t *testing.T) {
		narrowFrom, narrowTo := testStart().Add(-5*24*time.Hour), testStart()
		env := list(t, map[string]any{"skip": "0", "limit": "500", "fromDate": narrowFrom.Format(time.RFC3339), "toDate": narrowTo.Format(time.RFC3339), "includeUsers": "false"})
		for _, p := range env.Results.Posts {
			if p.DisplayDate.Before(narrowFrom) || p.DisplayDate.After(narrowTo) {
				t.Errorf("post at %v outside the window", p.DisplayDate)
			}
		}
	})
	t.Run("huge skip and limit", func(t *testing.T) {
		env := list(t, map[string]any{"skip": "9223372036854775807", "limit": 9223372036854775807, "fromDate": from, "toDate": to, "includeUsers": "false"})
		if len(env.Results.Posts) != 0 {
			t.Errorf("skip past the end gave %d posts", len(env.Results.Posts))
		}
	})
	t.Run("errors", func(t *testing.T) {
		e.api("POST", path, loc.Token, map[string]any{"skip": "0", "limit": "10", "fromDate": from, "toDate": to}).
			wantError(t, http.StatusUnprocessableEntity, "includeUsers")
		e.api("POST", path, loc.Token, nil).wantError(t, http.StatusUnprocessableEntity, "skip")
		e.api("POST", path, loc.Token, map[string]any{"skip": "0", "limit": "10", "fromDate": from, "toDate": to, "includeUsers": "true", "type": "bogus"}).
			wantError(t, http.StatusBadRequest, "type must be one of")
	})
}

func TestGetPost(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	tagID := e.detail(loc.ID).SocialTags[0].ID
	var created ghl.Post
	e.admin("POST", "/_sandbox/locations/"+loc.ID+"/posts", map[string]any{"tags": []string{tagID}, "platform": "instagram"}).
		want(t, http.StatusCreated).decode(t, &created)

	var env ghl.Envelope[ghl.PostResults]
	e.api("GET", "/social-media-posting/"+loc.ID+"/posts/"+created.ID, loc.Token, nil).want(t, http.StatusOK).decode(t, &env)
	if !env.Success || env.StatusCode != 200 || env.Message != "Fetched Post" {
		t.Errorf("envelope = %+v", env)
	}
	if diff := cmp.Diff(created, env.Results.Post); diff != "" {
		t.Errorf("post (-created +got):\n%s", diff)
	}
	if !slices.Equal(env.Results.Post.Tags, []string{tagID}) || env.Results.Post.Platform != "instagram" {
		t.Errorf("post = %+v", env.Results.Post)
	}
	e.api("GET", "/social-media-posting/"+loc.ID+"/posts/0123456789abcdef01234567", loc.Token, nil).
		wantError(t, http.StatusNotFound, "Post not found")
	e.api("GET", "/social-media-posting/"+loc.ID+"/posts/nope", loc.Token, nil).
		wantError(t, http.StatusBadRequest, "24 hex")
}

// TestTagPageMatchesWireType holds the tag list's hand-assembled body to
// what encoding ghl.Envelope[ghl.TagsResults] gives, byte for byte.
func TestTagPageMatchesWireType(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	e.admin("POST", "/_sandbox/locations/"+loc.ID+"/socialTags", map[string]string{"tag": `Q&A <live> "special" ünïcode`}).
		want(t, http.StatusCreated)
	for _, q := range []string{"?limit=1000", "?skip=3&limit=5", "?searchText=zzzz-none"} {
		r := e.api("GET", "/social-media-posting/"+loc.ID+"/tags"+q, loc.Token, nil).want(t, http.StatusOK)
		var env ghl.Envelope[ghl.TagsResults]
		r.decode(t, &env)
		if env.Results.Tags == nil {
			t.Fatalf("%s: tags is not an array: %s", q, r.body)
		}
		if diff := cmp.Diff(string(encodeJSON(env)), string(r.body)); diff != "" {
			t.Errorf("%s: body differs from the wire type's encoding (-type +body):\n%s", q, diff)
		}
	}
}
