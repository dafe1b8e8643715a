package ghlsim

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// adminErr fails unless r is an admin error with status naming what.
func (r *resp) adminErr(t testing.TB, status int, what string) {
	t.Helper()
	r.want(t, status)
	var b adminError
	r.decode(t, &b)
	if !strings.Contains(b.Error, what) {
		t.Errorf("error = %q, want it to name %q", b.Error, what)
	}
}

func TestAdminCreateLocation(t *testing.T) {
	e := newEnv(t, "empty")
	if n := len(e.sim.Locations()); n != 0 {
		t.Fatalf("empty seed has %d locations", n)
	}
	var created struct{ ID, Token string }
	e.admin("POST", "/_sandbox/locations", map[string]any{
		"id": "TestLoc0000000000001", "name": "Test Shop", "timezone": "Europe/Paris",
		"socialTags": []string{"Launch", "Sale"},
		"accounts":   []map[string]any{{"platform": "facebook"}, {"platform": "tiktok"}},
		"contacts":   []map[string]any{{"id": "Contact0000000000001", "tags": []string{"VIP"}}, {"tags": []string{}}},
	}).want(t, http.StatusCreated).decode(t, &created)
	if created.ID != "TestLoc0000000000001" || !regexp.MustCompile(`^pit-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(created.Token) {
		t.Fatalf("created = %+v", created)
	}

	d := e.detail(created.ID)
	if d.Name != "Test Shop" || d.Timezone != "Europe/Paris" || d.Token != created.Token {
		t.Errorf("detail = %+v", d)
	}
	var tagNames []string
	for _, tg := range d.SocialTags {
		tagNames = append(tagNames, tg.Tag)
	}
	if diff := cmp.Diff([]string{"Launch", "Sale"}, tagNames); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if len(d.Accounts) != 2 || d.Accounts[0].Platform != "facebook" || len(d.Contacts) != 2 ||
		d.Contacts[0].ID != "Contact0000000000001" || !isFirebaseID(d.Contacts[1].ID) {
		t.Errorf("detail = %+v", d)
	}
	if diff := cmp.Diff([]string{"vip"}, d.Contacts[0].Tags); diff != "" {
		t.Errorf("contact tags (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"vip"}, d.LocationTags); diff != "" {
		t.Errorf("location tags (-want +got):\n%s", diff)
	}

	var listed struct{ Locations []adminLocation }
	e.admin("GET", "/_sandbox/locations", nil).want(t, http.StatusOK).decode(t, &listed)
	if diff := cmp.Diff([]adminLocation{{ID: created.ID, Name: "Test Shop", Token: created.Token, Timezone: "Europe/Paris"}}, listed.Locations); diff != "" {
		t.Errorf("listed (-want +got):\n%s", diff)
	}
	// The PIT works at once, and the contact is reachable by id.
	var env ghl.Envelope[ghl.TagsResults]
	e.api("GET", "/social-media-posting/"+created.ID+"/tags", created.Token, nil).want(t, http.StatusOK).decode(t, &env)
	if env.Results.Count != 2 {
		t.Errorf("tags via API = %+v", env.Results)
	}
	e.api("POST", "/contacts/Contact0000000000001/tags", created.Token, ghl.ContactTags{Tags: []string{"x"}}).want(t, http.StatusCreated)

	t.Run("defaults", func(t *testing.T) {
		var c struct{ ID, Token string }
		e.admin("POST", "/_sandbox/locations", nil).want(t, http.StatusCreated).decode(t, &c)
		if !isFirebaseID(c.ID) || e.detail(c.ID).Timezone != "UTC" {
			t.Errorf("default location = %+v", e.detail(c.ID))
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name   string
			body   string
			status int
			what   string
		}{
			{"timezone", `{"timezone":"Mars/Olympus"}`, http.StatusBadRequest, "timezone"},
			{"duplicate id", `{"id":"TestLoc0000000000001"}`, http.StatusConflict, "id"},
			{"bad id", `{"id":"has space"}`, http.StatusBadRequest, "id"},
			{"platform", `{"accounts":[{"platform":"myspace"}]}`, http.StatusBadRequest, "accounts[0].platform"},
			{"contact id", `{"contacts":[{"id":"short"}]}`, http.StatusBadRequest, "contacts[0].id"},
			{"taken contact id", `{"contacts":[{"id":"Contact0000000000001"}]}`, http.StatusBadRequest, "contacts[0].id"},
			{"unknown field", `{"tags":["x"]}`, http.StatusBadRequest, "tags"},
			{"wrong type", `{"socialTags":"x"}`, http.StatusBadRequest, "socialTags"},
			{"not json", `{`, http.StatusBadRequest, "JSON"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.admin("POST", "/_sandbox/locations", tt.body).adminErr(t, tt.status, tt.what)
			})
		}
	})
}

func TestAdminSocialTags(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(4)
	base := "/_sandbox/locations/" + loc.ID + "/socialTags"
	apiTags := func() map[string]string {
		var env ghl.Envelope[ghl.TagsResults]
		e.api("GET", "/social-media-posting/"+loc.ID+"/tags?limit=1000", loc.Token, nil).want(t, http.StatusOK).decode(t, &env)
		out := map[string]string{}
		for _, tg := range env.Results.Tags {
			out[tg.ID] = tg.Tag
		}
		return out
	}

	var tag ghl.SocialTag
	e.admin("POST", base, map[string]string{"tag": "Grand Opening"}).want(t, http.StatusCreated).decode(t, &tag)
	if !isObjectID(tag.ID) || tag.Tag != "Grand Opening" || tag.LocationID != loc.ID || !tag.CreatedAt.Equal(testStart()) {
		t.Errorf("created = %+v", tag)
	}
	if apiTags()[tag.ID] != "Grand Opening" {
		t.Error("new tag not listed by the API")
	}
	e.admin("POST", base, map[string]string{"tag": "grand opening"}).adminErr(t, http.StatusConflict, "already exists")
	e.admin("POST", base, map[string]string{"tag": " "}).adminErr(t, http.StatusBadRequest, "tag")

	e.clock.Advance(time.Minute)
	var renamed ghl.SocialTag
	e.admin("PUT", base+"/"+tag.ID, map[string]string{"tag": "Grand Reopening"}).want(t, http.StatusOK).decode(t, &renamed)
	if renamed.ID != tag.ID || renamed.Tag != "Grand Reopening" || !renamed.UpdatedAt.After(renamed.CreatedAt) {
		t.Errorf("renamed = %+v", renamed)
	}
	if apiTags()[tag.ID] != "Grand Reopening" {
		t.Error("rename not visible through the API")
	}

	e.admin("DELETE", base+"/"+tag.ID, nil).want(t, http.StatusOK)
	if _, ok := apiTags()[tag.ID]; ok {
		t.Error("deleted tag still listed")
	}
	var details ghl.Envelope[ghl.TagsResults]
	e.api("POST", "/social-media-posting/"+loc.ID+"/tags/details", loc.Token, ghl.TagDetailsRequest{TagIDs: []string{tag.ID}}).
		want(t, http.StatusCreated).decode(t, &details)
	if len(details.Results.Tags) != 1 || !details.Results.Tags[0].Deleted {
		t.Errorf("details of a deleted tag = %+v", details.Results.Tags)
	}
	e.admin("PUT", base+"/"+tag.ID, map[string]string{"tag": "x"}).adminErr(t, http.StatusConflict, "deleted")
	e.admin("DELETE", base+"/000000000000000000000000", nil).adminErr(t, http.StatusNotFound, "tagId")
	e.admin("POST", "/_sandbox/locations/nope/socialTags", map[string]string{"tag": "x"}).adminErr(t, http.StatusNotFound, "location")
}

func TestAdminPostsAndContacts(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	e.admin("POST", "/_sandbox/locations/"+loc.ID+"/posts", map[string]any{"tags": []string{"000000000000000000000000"}}).
		adminErr(t, http.StatusBadRequest, "tags[0]")
	e.admin("POST", "/_sandbox/locations/"+loc.ID+"/posts", map[string]any{"platform": "orkut"}).
		adminErr(t, http.StatusBadRequest, "platform")

	var c ContactView
	e.admin("POST", "/_sandbox/locations/"+loc.ID+"/contacts", map[string]any{"id": "NewContact0000000001", "tags": []string{"A"}, "deleted": true}).
		want(t, http.StatusCreated).decode(t, &c)
	if diff := cmp.Diff(ContactView{ID: "NewContact0000000001", LocationID: loc.ID, Tags: []string{"a"}, Deleted: true}, c); diff != "" {
		t.Errorf("contact (-want +got):\n%s", diff)
	}
	e.admin("POST", "/_sandbox/locations/"+e.loc(1).ID+"/contacts", map[string]any{"id": "NewContact0000000001"}).
		adminErr(t, http.StatusConflict, "id")
	e.admin("DELETE", "/_sandbox/locations/"+loc.ID+"/contacts/NoSuchContact0000000", nil).adminErr(t, http.StatusNotFound, "contactId")
}

func TestAdminRequestLog(t *testing.T) {
	e := newEnv(t, "demo")
	a, b := e.loc(0), e.loc(1)
	e.api("GET", "/social-media-posting/"+a.ID+"/tags?skip=0&limit=3", a.Token, nil).want(t, http.StatusOK)
	e.clock.Advance(1500 * time.Millisecond)
	e.api("GET", "/locations/"+b.ID+"/tags", b.Token, nil).want(t, http.StatusOK)
	e.api("GET", "/locations/"+b.ID+"/tags", "garbage", nil).want(t, http.StatusUnauthorized)
	e.admin("GET", "/_sandbox/locations", nil).want(t, http.StatusOK)

	var all struct{ Requests []logEntry }
	e.admin("GET", "/_sandbox/requests", nil).want(t, http.StatusOK).decode(t, &all)
	want := []logEntry{
		{Method: "GET", Path: "/social-media-posting/" + a.ID + "/tags?skip=0&limit=3", Status: 200, Location: a.ID, At: testStart()},
		{Method: "GET", Path: "/locations/" + b.ID + "/tags", Status: 200, Location: b.ID, At: testStart().Add(1500 * time.Millisecond)},
		{Method: "GET", Path: "/locations/" + b.ID + "/tags", Status: 401, At: testStart().Add(1500 * time.Millisecond)},
	}
	if diff := cmp.Diff(want, all.Requests, cmp.AllowUnexported(logEntry{})); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	var one struct{ Requests []logEntry }
	e.admin("GET", "/_sandbox/requests?location="+b.ID, nil).want(t, http.StatusOK).decode(t, &one)
	if len(one.Requests) != 1 || one.Requests[0].Location != b.ID {
		t.Errorf("filtered log = %+v", one.Requests)
	}
	r := e.admin("GET", "/_sandbox/requests?limit=1", nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), `"at":"`+testStart().Add(1500*time.Millisecond).Format(time.RFC3339Nano)+`"`) {
		t.Errorf("at is not RFC 3339 UTC: %s", r.body)
	}
	e.admin("GET", "/_sandbox/requests?limit=x", nil).adminErr(t, http.StatusBadRequest, "limit")
}

func TestRequestLogIsBounded(t *testing.T) {
	l := newRequestLog(3)
	for i := range 5 {
		l.add("GET", "/"+string(rune('a'+i)), 200, "", time.Unix(int64(i), 0), nil, "", "")
	}
	var paths []string
	for _, e := range l.entries("", 0) {
		paths = append(paths, e.Path)
	}
	if diff := cmp.Diff([]string{"/c", "/d", "/e"}, paths); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
}

func TestAdminConfig(t *testing.T) {
	e := newEnv(t, "demo")
	var got configJSON
	e.admin("GET", "/_sandbox/config", nil).want(t, http.StatusOK).decode(t, &got)
	want := configJSON{AccessTokenTTL: "23h59m59s", RateLimit: rateLimitJSON{Max: 100, Window: "10s", Daily: 200000, DailyReset: "0s"},
		Duplicates: duplicateConfig{CustomValues: 400, LocationTags: 200}, SearchIndexLag: "0s", WebhookRetry: "10m0s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	e.admin("PUT", "/_sandbox/config", `{"searchIndexLag":"5s"}`).want(t, http.StatusOK).decode(t, &got)
	want.SearchIndexLag = "5s"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a search index lag update (-want +got):\n%s", diff)
	}
	e.admin("PUT", "/_sandbox/config", `{"duplicates":{"customValues":422}}`).want(t, http.StatusOK).decode(t, &got)
	want.Duplicates.CustomValues = 422
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a duplicates update (-want +got):\n%s", diff)
	}
	e.admin("PUT", "/_sandbox/config", `{"rateLimit":{"max":7}}`).want(t, http.StatusOK).decode(t, &got)
	want.RateLimit.Max = 7
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a partial update (-want +got):\n%s", diff)
	}
	tests := []struct {
		body string
		what string
	}{
		{`{"accessTokenTTL":"soon"}`, "accessTokenTTL"},
		{`{"accessTokenTTL":"10ms"}`, "accessTokenTTL"},
		{`{"rateLimit":{"max":0}}`, "rateLimit.max"},
		{`{"rateLimit":{"window":"0s"}}`, "rateLimit.window"},
		{`{"rateLimit":{"daily":-5}}`, "rateLimit.daily"},
		{`{"rateLimit":{"burst":5}}`, "burst"},
		{`{"rateLimit":{"max":"many"}}`, "rateLimit.max"},
		{`{"duplicates":{"customValues":409}}`, "duplicates.customValues"},
		{`{"duplicates":{"locationTags":500}}`, "duplicates.locationTags"},
		{`{"searchIndexLag":"-1s"}`, "searchIndexLag"},
		{`{"searchIndexLag":"2h"}`, "searchIndexLag"},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			e.admin("PUT", "/_sandbox/config", tt.body).adminErr(t, http.StatusBadRequest, tt.what)
		})
	}
	e.admin("GET", "/_sandbox/config", nil).want(t, http.StatusOK).decode(t, &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejected updates changed the config (-want +got):\n%s", diff)
	}
}

func TestAdminAppsAndUnknownRoute(t *testing.T) {
	e := newEnv(t, "demo")
	var apps struct {
		Apps []struct{ ClientID, ClientSecret, CompanyID string }
	}
	e.admin("GET", "/_sandbox/apps", nil).want(t, http.StatusOK).decode(t, &apps)
	if len(apps.Apps) != 1 {
		t.Fatalf("apps = %+v", apps)
	}
	a := apps.Apps[0]
	if !regexp.MustCompile(`^[0-9a-f]{24}-[0-9a-z]{8}$`).MatchString(a.ClientID) || a.ClientSecret == "" || !isFirebaseID(a.CompanyID) {
		t.Errorf("app = %+v", a)
	}
	if diff := cmp.Diff(App{ClientID: a.ClientID, ClientSecret: a.ClientSecret, CompanyID: a.CompanyID}, e.sim.Apps()[0]); diff != "" {
		t.Errorf("Apps() vs admin API (-admin +Apps):\n%s", diff)
	}
	e.admin("GET", "/_sandbox/nope", nil).adminErr(t, http.StatusNotFound, "/_sandbox/nope")
	e.admin("DELETE", "/_sandbox/config", nil).adminErr(t, http.StatusNotFound, "DELETE")
}

// Live keeps exactly the tags and contacts the admin view does not mark
// deleted, in their order, and leaves the view it was called on whole.
func TestLocationViewLive(t *testing.T) {
	e := newEnv(t, "demo")
	var goneTags, goneContacts int
	for _, info := range e.sim.Locations() {
		d := e.detail(info.ID)
		wantTags, n := kept(d.SocialTags, func(tg TagView) bool { return tg.Deleted })
		goneTags += n
		wantContacts, n := kept(d.Contacts, func(c ContactView) bool { return c.Deleted })
		goneContacts += n
		live := d.Live()
		if diff := cmp.Diff(wantTags, live.SocialTags, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: live tags (-want +got):\n%s", info.ID, diff)
		}
		if diff := cmp.Diff(wantContacts, live.Contacts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: live contacts (-want +got):\n%s", info.ID, diff)
		}
		if diff := cmp.Diff(e.detail(info.ID), d); diff != "" {
			t.Errorf("%s: Live changed the view it was called on (-was +now):\n%s", info.ID, diff)
		}
	}
	if goneTags == 0 || goneContacts == 0 {
		t.Fatalf("the demo seed has %d deleted tags and %d deleted contacts: Live is not exercised", goneTags, goneContacts)
	}
}

// kept returns the elements of all that are not deleted, in their order,
// and how many are.
func kept[T any](all []T, deleted func(T) bool) (out []T, gone int) {
	for _, x := range all {
		if deleted(x) {
			gone++
		} else {
			out = append(out, x)
		}
	}
	return out, gone
}
