package ghlsim

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t, "demo")
	loc, other := e.loc(0), e.loc(1)
	path := "/social-media-posting/" + loc.ID + "/tags"
	tests := []struct {
		name       string
		auth       string
		wantStatus int
		wantBody   map[string]any
	}{
		{"pit", "Bearer " + loc.Token, http.StatusOK, nil},
		{"lower-case scheme", "bearer " + loc.Token, http.StatusOK, nil},
		{"missing", "", http.StatusUnauthorized, map[string]any{"statusCode": float64(401), "message": "Invalid JWT"}},
		{"garbage", "Bearer garbage", http.StatusUnauthorized, map[string]any{"statusCode": float64(401), "message": "Invalid JWT"}},
		{"basic", "Basic " + loc.Token, http.StatusUnauthorized, map[string]any{"statusCode": float64(401), "message": "Invalid JWT"}},
		{"other location", "Bearer " + other.Token, http.StatusForbidden,
			map[string]any{"statusCode": float64(403), "message": "The token does not have access to this location."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := []string{"Version", "2021-07-28"}
			if tt.auth != "" {
				headers = append(headers, "Authorization", tt.auth)
			}
			r := e.request("GET", path, nil, headers...).want(t, tt.wantStatus)
			if tt.wantBody == nil {
				return
			}
			if diff := cmp.Diff(tt.wantBody, r.object(t)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	// A token with one scope may call only that scope's endpoints.
	tok := e.oauthToken("contacts.readonly", loc.ID, "Location")
	tests := []struct {
		name, method, path string
		body               any
		wantStatus         int
	}{
		{"tags", "GET", "/social-media-posting/" + loc.ID + "/tags", nil, http.StatusUnauthorized},
		{"tag details", "POST", "/social-media-posting/" + loc.ID + "/tags/details", map[string]any{"tagIds": []string{}}, http.StatusUnauthorized},
		{"accounts", "GET", "/social-media-posting/" + loc.ID + "/accounts", nil, http.StatusUnauthorized},
		{"statistics", "POST", "/social-media-posting/statistics?locationId=" + loc.ID, map[string]any{"profileIds": []string{"x"}}, http.StatusUnauthorized},
		{"posts", "POST", "/social-media-posting/" + loc.ID + "/posts/list", map[string]any{}, http.StatusUnauthorized},
		{"add contact tags", "POST", "/contacts/abc/tags", map[string]any{"tags": []string{"a"}}, http.StatusUnauthorized},
		{"bulk", "POST", "/contacts/bulk/tags/update/add", map[string]any{}, http.StatusUnauthorized},
		{"location tags", "GET", "/locations/" + loc.ID + "/tags", nil, http.StatusUnauthorized},
		{"custom values", "GET", "/locations/" + loc.ID + "/customValues", nil, http.StatusUnauthorized},
		{"search (granted)", "POST", "/contacts/search", map[string]any{"locationId": loc.ID, "pageLimit": 1}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.api(tt.method, tt.path, tok.AccessToken, tt.body)
			if tt.wantStatus == http.StatusOK {
				r.want(t, http.StatusOK)
				return
			}
			r.want(t, tt.wantStatus)
			if diff := cmp.Diff(map[string]any{"statusCode": float64(401), "message": msgScopeDenied}, r.object(t)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVersionHeader(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/social-media-posting/" + loc.ID + "/tags"
	tests := []struct {
		name       string
		version    string
		wantStatus int
	}{
		{"spec", "2021-07-28", http.StatusOK},
		{"node sdk", "2023-02-21", http.StatusOK},
		{"missing", "", http.StatusBadRequest},
		{"v3", "v3", http.StatusBadRequest},
		{"other date", "2021-04-15", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			headers := []string{"Authorization", "Bearer " + loc.Token}
			if tt.version != "" {
				headers = append(headers, "Version", tt.version)
			}
			r := e.request("GET", path, nil, headers...)
			if tt.wantStatus == http.StatusOK {
				r.want(t, http.StatusOK)
				return
			}
			r.wantError(t, http.StatusBadRequest, "Version")
			if m := r.object(t); m["error"] != "Bad Request" || m["traceId"] == nil {
				t.Errorf("400 body lacks error or traceId: %s", r.body)
			}
		})
	}
	t.Run("not needed by the token endpoint", func(t *testing.T) {
		a := e.sim.Apps()[0]
		code, _ := e.authorize(a, "", loc.ID, "")
		e.exchange(a, code, "Location").want(t, http.StatusOK)
	})
}
