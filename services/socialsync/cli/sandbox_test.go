package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/ghlspec"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var sandboxURL = regexp.MustCompile(`HighLevel simulator on (http://\S+)`)

// startSandbox runs `socialsync sandbox` in-process on a free loopback port
// and returns its base URL and what it printed.
func startSandbox(t *testing.T, seed string) (string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"sandbox", "--listen", "127.0.0.1:0", "--seed", seed}, out, errOut) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("sandbox exited %d: %s", code, errOut.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("sandbox did not stop within 10s of cancellation")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := sandboxURL.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case code := <-done:
			t.Fatalf("sandbox exited %d before serving: %s", code, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("sandbox printed no address: %q", out.String())
	return "", nil
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

func TestSandboxPrintsItsCredentials(t *testing.T) {
	base, out := startSandbox(t, "demo")
	var list struct {
		Locations []ghlsim.LocationView `json:"locations"`
	}
	getJSON(t, base+"/_sandbox/locations", &list)
	if len(list.Locations) < 3 {
		t.Fatalf("demo seed has %d locations, want several", len(list.Locations))
	}
	printed := out.String()
	for _, l := range list.Locations {
		if !bytes.Contains([]byte(printed), []byte(l.ID)) || !bytes.Contains([]byte(printed), []byte(l.Token)) {
			t.Errorf("sandbox output lacks location %s and its token", l.ID)
		}
	}
}

func TestSandboxUnknownSeed(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"sandbox", "--seed", "nope", "--listen", "127.0.0.1:0"}, &out, &errOut)
	if code != 2 || !bytes.Contains(errOut.Bytes(), []byte("nope")) {
		t.Fatalf("exit %d, stderr %q: want 2 and a message naming the seed", code, errOut.String())
	}
}

// TestSandboxConformsToOfficialFiles makes the socialsync calls against the
// sandbox command through a transport that checks every request and
// response against HighLevel's official OpenAPI files.
func TestSandboxConformsToOfficialFiles(t *testing.T) {
	base, _ := startSandbox(t, "demo")
	var list struct {
		Locations []ghlsim.LocationView `json:"locations"`
	}
	getJSON(t, base+"/_sandbox/locations", &list)
	var loc ghlsim.LocationView
	getJSON(t, base+"/_sandbox/locations/"+list.Locations[0].ID, &loc)

	tr := ghlspec.CheckingTransport(t, http.DefaultTransport)
	c, err := ghl.New(ghl.Options{
		BaseURL:     base,
		HTTPClient:  &http.Client{Transport: tr},
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: loc.Token}),
		MaxRetries:  -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tags, err := c.AllSocialTags(ctx, loc.ID)
	if err != nil || len(tags) == 0 {
		t.Fatalf("AllSocialTags: %d tags, %v", len(tags), err)
	}
	if _, err := c.TagDetails(ctx, loc.ID, []string{tags[0].ID}); err != nil {
		t.Errorf("TagDetails: %v", err)
	}
	if _, err := c.Accounts(ctx, loc.ID); err != nil {
		t.Errorf("Accounts: %v", err)
	}
	if _, err := c.Statistics(ctx, loc.ID, []string{loc.Accounts[0].ProfileID}, nil); err != nil {
		t.Errorf("Statistics: %v", err)
	}
	now := time.Now().UTC()
	posts, err := c.ListPosts(ctx, loc.ID, ghl.ListPostsRequest{Type: "all", Skip: "0", Limit: "10", IncludeUsers: "true",
		FromDate: now.AddDate(-1, 0, 0).Format(time.RFC3339), ToDate: now.Format(time.RFC3339)})
	if err != nil || len(posts.Posts) == 0 {
		t.Fatalf("ListPosts: %v", err)
	}
	if _, err := c.GetPost(ctx, loc.ID, posts.Posts[0].ID); err != nil {
		t.Errorf("GetPost: %v", err)
	}
	if _, err := c.AddContactTags(ctx, loc.Contacts[0].ID, []string{"social:conformance"}); err != nil {
		t.Errorf("AddContactTags: %v", err)
	}
	if _, err := c.RemoveContactTags(ctx, loc.Contacts[0].ID, []string{"social:conformance"}); err != nil {
		t.Errorf("RemoveContactTags: %v", err)
	}
	if _, err := c.BulkAddTags(ctx, loc.ID, []string{loc.Contacts[1].ID, "not-a-contact"}, []string{"social:bulk"}); err == nil {
		t.Errorf("BulkAddTags with an invalid contact id reported no failure")
	}
	if _, err := c.SearchContacts(ctx, ghl.SearchContactsRequest{LocationID: loc.ID, PageLimit: 20}); err != nil {
		t.Errorf("SearchContacts: %v", err)
	}
	if _, err := c.CreateLocationTag(ctx, loc.ID, "social:conformance"); err != nil {
		t.Errorf("CreateLocationTag: %v", err)
	}
	if _, err := c.LocationTags(ctx, loc.ID); err != nil {
		t.Errorf("LocationTags: %v", err)
	}
	cv, err := c.CreateCustomValue(ctx, loc.ID, "socialsync_conformance", "1")
	if err != nil {
		t.Fatalf("CreateCustomValue: %v", err)
	}
	if _, err := c.UpdateCustomValue(ctx, loc.ID, cv.ID, "socialsync_conformance", "2"); err != nil {
		t.Errorf("UpdateCustomValue: %v", err)
	}
	if _, err := c.CustomValues(ctx, loc.ID); err != nil {
		t.Errorf("CustomValues: %v", err)
	}
	// Errors must conform too: another location's data, and a bad token.
	if _, err := c.AllSocialTags(ctx, list.Locations[1].ID); !ghl.IsAuth(err) {
		t.Errorf("other location: err = %v, want an auth error", err)
	}
	bad, _ := ghl.New(ghl.Options{BaseURL: base, HTTPClient: &http.Client{Transport: tr}, MaxRetries: -1,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "garbage"})})
	if _, err := bad.Accounts(ctx, loc.ID); !ghl.IsAuth(err) {
		t.Errorf("garbage token: err = %v, want an auth error", err)
	}
	if tr.Spec != nil && tr.Checked() < 15 {
		t.Errorf("only %d exchanges were checked", tr.Checked())
	}
}

// TestOfficialNodeSDK runs HighLevel's official Node SDK, unchanged apart
// from its base URL, against the sandbox (scripts/sdk-compat).
func TestOfficialNodeSDK(t *testing.T) {
	dir, err := filepath.Abs("../../../scripts/sdk-compat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@gohighlevel", "api-client")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the SDK is not installed in %s: .ci/run must run 'npm ci --prefix scripts/sdk-compat'", dir)
		}
		t.Skipf("the official SDK is not installed; run: npm ci --prefix scripts/sdk-compat")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found: %v", err)
	}
	base, _ := startSandbox(t, "demo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=tap")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GHL_SIM_URL="+base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the official SDK failed against the sandbox: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^# pass [1-9]`).Match(out) || !regexp.MustCompile(`(?m)^# fail 0$`).Match(out) {
		t.Fatalf("unexpected node test summary:\n%s", out)
	}
	t.Log(fmt.Sprintf("official SDK: %s", regexp.MustCompile(`(?m)^# pass \d+`).Find(out)))
}
