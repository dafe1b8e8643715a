package ghlspec_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/socialsync/socialsync/pkg/ghlspec"
)

func newRequest(t *testing.T, method, target, version, body string) (*http.Request, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if version != "" {
		req.Header.Set("Version", version)
	}
	req.Header.Set("Authorization", "Bearer x")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, []byte(body)
}

func TestValidateRequest(t *testing.T) {
	spec := ghlspec.ForTest(t)
	tests := []struct {
		name, method, target, version, body string
		wantErr                             bool
	}{
		{"tags list", "GET", "/social-media-posting/L1/tags?skip=0&limit=50", "2021-07-28", "", false},
		{"node sdk version", "GET", "/social-media-posting/L1/tags", "2023-02-21", "", false},
		{"missing version", "GET", "/social-media-posting/L1/tags", "", "", true},
		{"unknown version", "GET", "/social-media-posting/L1/tags", "2020-01-01", "", true},
		{"details", "POST", "/social-media-posting/L1/tags/details", "2021-07-28", `{"tagIds":["a","b"]}`, false},
		{"details ids not a list", "POST", "/social-media-posting/L1/tags/details", "2021-07-28", `{"tagIds":"a"}`, true},
		{"details misspelt field", "POST", "/social-media-posting/L1/tags/details", "2021-07-28", `{"tagIDs":["a"]}`, true},
		{"statistics", "POST", "/social-media-posting/statistics?locationId=L1", "2021-07-28", `{"profileIds":["p"],"platforms":["facebook"]}`, false},
		{"statistics bad platform", "POST", "/social-media-posting/statistics?locationId=L1", "2021-07-28", `{"profileIds":["p"],"platforms":["myspace"]}`, true},
		{"statistics without location", "POST", "/social-media-posting/statistics", "2021-07-28", `{"profileIds":["p"]}`, true},
		{"bulk add", "POST", "/contacts/bulk/tags/update/add", "2021-07-28", `{"contacts":["c"],"tags":["t"],"locationId":"L1"}`, false},
		{"bulk other type", "POST", "/contacts/bulk/tags/update/replace", "2021-07-28", `{"contacts":["c"],"tags":["t"],"locationId":"L1"}`, true},
		{"remove tags with body", "DELETE", "/contacts/c1/tags", "2021-07-28", `{"tags":["t"]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := newRequest(t, tt.method, tt.target, tt.version, tt.body)
			err := spec.ValidateRequest(context.Background(), req, body)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateRequest() error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestUnknownPathHasNoRoute(t *testing.T) {
	spec := ghlspec.ForTest(t)
	req, body := newRequest(t, "GET", "/social-media-posting/L1/tagz", "2021-07-28", "")
	if err := spec.ValidateRequest(context.Background(), req, body); !errors.Is(err, ghlspec.ErrNoRoute) {
		t.Fatalf("err = %v, want ErrNoRoute", err)
	}
}

func TestValidateResponse(t *testing.T) {
	spec := ghlspec.ForTest(t)
	const tags = `{"success":true,"statusCode":200,"message":"Fetched Tags by Location ID","traceId":"t-1",
		"results":{"tags":[{"_id":"65fbdcfecc884f07e645ea8b","tag":"Launch","locationId":"L1","deleted":false,
		"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-01T00:00:00.000Z"}],"count":1}}`
	tests := []struct {
		name, method, target, reqBody string
		status                        int
		body                          string
		wantErr                       bool
	}{
		{"tags 200", "GET", "/social-media-posting/L1/tags", "", 200, tags, false},
		{"tags 201 is not declared", "GET", "/social-media-posting/L1/tags", "", 201, tags, true},
		{"tags misspelt field", "GET", "/social-media-posting/L1/tags", "", 200, strings.Replace(tags, `"count"`, `"cnt"`, 1), true},
		{"tags envelope without success", "GET", "/social-media-posting/L1/tags", "", 200, strings.Replace(tags, `"success":true,`, ``, 1), true},
		{"statistics 201", "POST", "/social-media-posting/statistics?locationId=L1", `{"profileIds":["p"]}`, 201,
			`{"results":{"dayRange":["Mon"],"totals":{"posts":1}},"message":"Analytics Built Successfully","traceId":"x"}`, false},
		{"statistics 200 is not declared", "POST", "/social-media-posting/statistics?locationId=L1", `{"profileIds":["p"]}`, 200,
			`{"results":{},"message":"Analytics Built Successfully"}`, true},
		{"422 message list", "POST", "/social-media-posting/L1/tags/details", `{"tagIds":[]}`, 422,
			`{"statusCode":422,"message":["tagIds must be an array"],"error":"Unprocessable Entity"}`, false},
		{"422 message string", "POST", "/social-media-posting/L1/tags/details", `{"tagIds":[]}`, 422,
			`{"statusCode":422,"message":"tagIds must be an array","error":"Unprocessable Entity"}`, true},
		{"429 common shape", "GET", "/social-media-posting/L1/tags", "", 429,
			`{"statusCode":429,"message":"Too Many Requests - Rate limit exceeded"}`, false},
		{"429 without statusCode", "GET", "/social-media-posting/L1/tags", "", 429, `{"message":"slow down"}`, true},
		{"bulk objects", "POST", "/contacts/bulk/tags/update/add", `{"contacts":["c"],"tags":["t"],"locationId":"L1"}`, 201,
			`{"succeded":false,"errorCount":1,"responses":[{"contactId":"c","message":"contact is deleted","type":"error"}]}`, false},
		{"post type string", "GET", "/social-media-posting/L1/posts/p1", "", 200,
			`{"success":true,"statusCode":200,"message":"Fetched Post","results":{"post":{"_id":"p1","locationId":"L1","error":"","type":"post","status":"published","tags":["t"]}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body := newRequest(t, tt.method, tt.target, "2021-07-28", tt.reqBody)
			h := http.Header{"Content-Type": {"application/json"}}
			err := spec.ValidateResponse(context.Background(), req, body, tt.status, h, []byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateResponse() error = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}
