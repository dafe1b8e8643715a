package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
	"github.com/socialsync/socialsync/services/socialsync/cli"
)

const apiKey = "sk-browser-test-0123456789"

// chromium returns the browser's path, or skips (fails under CI=true)
// when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const how = "no Chromium on PATH: install it with `sudo apt-get install -y chromium` (Debian/Ubuntu) to run the dashboard's browser tests"
	if os.Getenv("CI") == "true" {
		t.Fatal(how)
	}
	t.Skip(how)
	return ""
}

// fleet is the whole pipeline with the gateway, as `socialsync run` composes it.
type fleet struct {
	*fleettest.Env
	url string
}

// startFleet starts the fleet with a gateway accepting apiKey (every scope,
// every location) and the SOCIALSYNC_API_KEY_HASHES entries more returns
// (more may be nil).
func startFleet(t *testing.T, more func(*fleettest.Env) []string) *fleet {
	t.Helper()
	env := fleettest.Start(t, "demo")
	hashes := []string{gateway.HashAPIKey(apiKey)}
	if more != nil {
		hashes = append(hashes, more(env)...)
	}
	components, err := cli.Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range components {
		fleettest.Run(t, c.Run)
	}
	g, err := gateway.New(gateway.Config{Config: env.Deps.Config, APIKeyHashes: strings.Join(hashes, ";"),
		WebhookMaxBytes: 65536, WebhookTolerance: 5 * time.Minute, PublishTimeout: 5 * time.Second,
		BodyTimeout: 10 * time.Second, MaxSSEClients: 100}, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return &fleet{Env: env, url: srv.URL}
}

// post publishes the post event another system would send for a new post
// with tags, linked to contacts.
func (f *fleet) post(t *testing.T, loc string, tags, contacts []string) {
	t.Helper()
	var post struct {
		ID string `json:"_id"`
	}
	f.Admin(t, http.MethodPost, "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": tags, "platform": "facebook"}, &post)
	subject, _ := topology.PostTriggers.Subject(loc)
	if _, err := f.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.PostEvent{LocationId: loc, PostId: post.ID,
		Change: socialsyncv1.Change_CHANGE_CREATED, TagIds: tags, ContactIds: contacts, OccurredAt: timestamppb.Now(), EventId: "test:" + post.ID}); err != nil {
		t.Fatal(err)
	}
}

// changeTemplate stores loc's mapping with the contact-tag template tmpl
// and asks for the renaming, as `socialsync mappings set` does.
func (f *fleet) changeTemplate(t *testing.T, loc, tmpl string) {
	t.Helper()
	kv, err := settings.Open(context.Background(), f.JS)
	if err != nil {
		t.Fatal(err)
	}
	if err := settings.PutMapping(context.Background(), kv, settings.Mapping{Location: loc, ContactTag: tmpl}); err != nil {
		t.Fatal(err)
	}
	subject, _ := topology.RemapTriggers.Subject(loc)
	if _, err := f.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.RemapRequested{LocationId: loc, RequestedBy: "test",
		RequestedAt: timestamppb.Now()}); err != nil {
		t.Fatal(err)
	}
}

func (f *fleet) apiGet(t *testing.T, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// apiDo calls the API and returns the status and body.
func (f *fleet) apiDo(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func TestDashboard(t *testing.T) {
	exe := chromium(t)
	f := startFleet(t, nil)
	loc := f.Locations[0].ID
	detail := f.Location(t, loc)
	var tags, contacts []string
	tagName := ""
	for _, tg := range detail.SocialTags {
		if !tg.Deleted && len(tags) < 2 {
			tags = append(tags, tg.ID)
			if tagName == "" {
				tagName = tg.Tag
			}
		}
	}
	for _, c := range detail.Contacts {
		if !c.Deleted && len(contacts) < 2 {
			contacts = append(contacts, c.ID)
		}
	}
	// What the demo does at start: a post event and a statistics run.
	f.post(t, loc, tags, contacts)
	subject, _ := topology.StatsTriggers.Subject(loc)
	if _, err := f.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "the demo location's tags and statistics in the API", func() bool {
		var tl, sl struct{ Items []json.RawMessage }
		f.apiGet(t, "/v1/locations/"+loc+"/tags?limit=1", &tl)
		f.apiGet(t, "/v1/locations/"+loc+"/stats", &sl)
		return len(tl.Items) > 0 && len(sl.Items) > 0
	})

	// A segment of the contacts of the first tag, applied through the API
	// as a user would; the contactsync workers compute its members.
	segment := fmt.Sprintf(`{"segments":[{"name":"browser-fans","anyTags":[%q]}]}`, "social:"+strings.ToLower(tagName))
	if status, body := f.apiDo(t, http.MethodPut, "/v1/segments", "application/json", segment); status != http.StatusOK {
		t.Fatalf("apply segment: %d %s", status, body)
	}
	fleettest.Eventually(t, 30*time.Second, "the segment's members and the stored report", func() bool {
		var segs struct{ Items []struct{ Members int } }
		f.apiGet(t, "/v1/locations/"+loc+"/segments", &segs)
		status, _ := f.apiDo(t, http.MethodGet, "/v1/locations/"+loc+"/reports/latest?format=html", "", "")
		return len(segs.Items) == 1 && segs.Items[0].Members == len(contacts) && status == http.StatusOK
	})

	b := openBrowser(t, exe)
	run, eval, text, visible, poll := b.run, b.eval, b.text, b.visible, b.poll
	ctx := b.ctx

	// Sign in: a wrong key is refused, the right one shows the location.
	run("open the dashboard", chromedp.Navigate(f.url+"/"), visible("#apikey"))
	run("sign in with a wrong key", chromedp.SendKeys(chromedp.CSS("#apikey"), "sk-wrong"), chromedp.Click(chromedp.CSS("#signin-button")),
		visible("#signin-error"))
	if s := text("#signin-error"); !strings.Contains(s, "not valid") {
		t.Errorf("wrong key: %q", s)
	}
	eval(`document.querySelector("#apikey").value = ""; true`)
	run("sign in", chromedp.SendKeys(chromedp.CSS("#apikey"), apiKey), chromedp.Click(chromedp.CSS("#signin-button")), visible("#app"))
	// Choose the location as a user does; the flag tells a reload apart.
	eval(fmt.Sprintf(`const s = document.querySelector("#location"); s.value = %q; s.dispatchEvent(new Event("change")); window.__noReload = 1; true`, loc))

	// The demo tags with their posts and contacts, and the statistics
	// with their charts.
	run("see the tags", visible(fmt.Sprintf(`#tags tr[data-tag-id="%s"]`, tags[0])))
	if s := text("#tags tbody"); !strings.Contains(s, tagName) {
		t.Errorf("tag %q not shown: %q", tagName, s)
	}
	poll("see the tag's posts and contacts", fmt.Sprintf(
		`(() => { const r = document.querySelector('#tags tr[data-tag-id="%s"]'); return !!r && r.querySelector(".posts").textContent === "1" && r.querySelector(".contacts").textContent === "%d"; })()`,
		tags[0], len(contacts)))
	run("see the statistics", visible(`#stats-platforms tbody tr`), visible(`#charts svg polyline.series`))
	platforms := eval(`document.querySelectorAll("#stats-platforms tbody tr").length`).(float64)
	lines := eval(`document.querySelectorAll("#charts polyline.series").length`).(float64)
	if platforms == 0 || lines < platforms {
		t.Errorf("%v platforms, %v chart lines", platforms, lines)
	}
	// Recommendations (a day of statistics is not enough data: the panel
	// says what is missing), the latest report, and the segment with its
	// members.
	run("see the recommendations", visible(`#recommendations tbody tr[data-platform]`), visible(`#report-link`))
	if s := text("#recommendations tbody"); !strings.Contains(s, "not enough data") || !strings.Contains(s, "days of statistics") {
		t.Errorf("recommendations: %q", s)
	}
	if href := eval(`document.querySelector("#report-link").href`).(string); !strings.HasPrefix(href, "blob:") {
		t.Errorf("report link: %q", href)
	}
	poll("see the segment and its size", fmt.Sprintf(
		`(() => { const r = document.querySelector('#segments tr[data-segment="browser-fans"]'); return !!r && r.querySelector(".members").textContent === "%d"; })()`,
		len(contacts)))
	// The location's contact-tag template changes, as `socialsync mappings
	// set` saves it: the page follows the renaming of the tags already
	// given to its end.
	if s := text("#remap-note"); !strings.Contains(s, "has not changed") {
		t.Errorf("renaming before any template change: %q", s)
	}
	f.changeTemplate(t, loc, "sp-{{tagName}}")
	poll("see the contact tags renamed", fmt.Sprintf(
		`(() => { const n = document.querySelector("#remap-note"); return n.dataset.state === "done" && n.textContent.includes("%d/%d contacts done, %d renamed"); })()`,
		len(contacts), len(contacts), len(contacts)))
	if got := f.ContactTags(t, loc, contacts[0]); !fleettest.HasTag(got, "sp-"+strings.ToLower(tagName)) || fleettest.HasTag(got, "social:"+strings.ToLower(tagName)) {
		t.Errorf("contact tags after the renaming: %v", got)
	}
	run("see the pipeline health", visible(`#consumers tbody tr`), visible(fmt.Sprintf(`#locations-health tr[data-location="%s"]`, loc)),
		visible(`#live-status.on`))
	if s := text(fmt.Sprintf(`#locations-health tr[data-location="%s"] .token`, loc)); !strings.HasPrefix(s, "valid") {
		t.Errorf("token state: %q", s)
	}

	// Publish triggers and watch the page change without a reload: the
	// statistics button, and a post with a tag HighLevel has just got,
	// which reaches the catalogue and the contacts.
	run("refresh statistics", chromedp.Click(chromedp.CSS("#trigger-stats")), visible(`#live li[data-type="stats"]`))
	var created struct {
		ID string `json:"_id"`
	}
	f.Admin(t, http.MethodPost, "/_sandbox/locations/"+loc+"/socialTags", map[string]any{"tag": "Browser Launch"}, &created)
	f.post(t, loc, []string{created.ID}, contacts[:1])
	run("see the new tag live", visible(fmt.Sprintf(`#tags tr[data-tag-id="%s"]`, created.ID)),
		visible(`#live li[data-type="tag"]`), visible(`#live li[data-type="contact"]`))
	if s := text("#live"); !strings.Contains(s, "Browser Launch") {
		t.Errorf("live feed lacks the new tag: %q", s)
	}
	if same := eval(`window.__noReload === 1`); same != true {
		t.Error("the page was reloaded")
	}
	shot(t, ctx, "dashboard")
}

// browser is a headless Chromium with the steps the tests take.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// openBrowser starts Chromium; it ends with the test.
func openBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 1800), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	// The first action starts the browser, on a context without timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx}
}

func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		shot(b.t, b.ctx, "failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) eval(expr string) any {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (b *browser) visible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

// poll waits until the JavaScript predicate holds.
func (b *browser) poll(what, predicate string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		shot(b.t, b.ctx, "failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// shot saves a full-page screenshot in the test's temporary directory.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("SOCIALSYNC_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o600)
	}
	t.Logf("screenshot: %s", path)
}
