package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
)

// binaries are built once per test binary into binDir.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

var commands = map[string]string{
	"nats-server": "github.com/nats-io/nats-server/v2",
	"socialsync":  "github.com/socialsync/socialsync/services/socialsync/cmd/socialsync",
	"fetcher":     "github.com/socialsync/socialsync/services/fetcher/cmd/fetcher",
	"enricher":    "github.com/socialsync/socialsync/services/enricher/cmd/enricher",
	"stats":       "github.com/socialsync/socialsync/services/stats/cmd/stats",
	"contactsync": "github.com/socialsync/socialsync/services/contactsync/cmd/contactsync",
	"automation":  "github.com/socialsync/socialsync/services/automation/cmd/automation",
	"gateway":     "github.com/socialsync/socialsync/services/gateway/cmd/gateway",
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func build(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "socialsync-e2e-bin-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + string(os.PathSeparator)}
		for _, pkg := range commands {
			args = append(args, pkg)
		}
		cmd := exec.Command("go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// proc is a process of the test fleet.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *fleettest.Buffer
	done chan struct{}
	// addr is a worker's health and metrics address (host:port).
	addr string
}

// fleet is the set of processes of one test.
type fleet struct {
	t       *testing.T
	bin     string
	env     []string
	natsURL string
	simURL  string
	mu      sync.Mutex
	procs   []*proc
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newFleet starts nats-server and the simulator.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	f := &fleet{t: t, bin: build(t)}
	port := freePort(t)
	f.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	f.start("nats-server", nil, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", t.TempDir())
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", port))
	simPort := freePort(t)
	f.simURL = fmt.Sprintf("http://127.0.0.1:%d", simPort)
	f.start("socialsync", nil, "sandbox", "--listen", fmt.Sprintf("127.0.0.1:%d", simPort), "--seed", "demo")
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", simPort))
	f.env = []string{
		"SOCIALSYNC_NATS_URL=" + f.natsURL,
		"SOCIALSYNC_GHL_BASE_URL=" + f.simURL,
		"SOCIALSYNC_TOKEN_KEY=" + creds.NewKey(),
		"SOCIALSYNC_LOG_FORMAT=text",
		"SOCIALSYNC_SHUTDOWN_TIMEOUT=5s",
	}
	t.Cleanup(f.stopAll)
	// The operator step: the workers wait, not ready, until it has run.
	f.cli("topology", "apply")
	return f
}

// start runs a binary with the fleet's environment plus env.
func (f *fleet) start(name string, env []string, args ...string) *proc {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, name), args...)
	cmd.Env = append(append(append([]string{}, os.Environ()...), f.env...), env...)
	p := &proc{name: name, cmd: cmd, out: &fleettest.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	f.mu.Lock()
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	return p
}

// worker starts a worker with its health server on a free port and the
// extra environment variables. The gateway gets no token key and no client
// secret: it refuses them.
func (f *fleet) worker(name string, extra ...string) *proc {
	f.t.Helper()
	return f.workerAt(name, fmt.Sprintf("127.0.0.1:%d", freePort(f.t)), extra...)
}

// workerAt is worker with its health server (the gateway's API) on addr,
// for a gateway that must know its own URL before it starts.
func (f *fleet) workerAt(name, addr string, extra ...string) *proc {
	f.t.Helper()
	env := append([]string{"SOCIALSYNC_HTTP_ADDR=" + addr}, extra...)
	if name == "gateway" {
		env = append(env, "SOCIALSYNC_TOKEN_KEY=", "SOCIALSYNC_GHL_CLIENT_SECRET=")
	}
	p := f.start(name, env)
	p.addr = addr
	return p
}

// stop sends SIGTERM and waits; kill sends SIGKILL.
func (p *proc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 20s of SIGTERM", p.name)
	}
}

func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (f *fleet) stopAll() {
	f.mu.Lock()
	procs := append([]*proc(nil), f.procs...)
	f.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		p.stop(f.t)
	}
	if f.t.Failed() {
		for _, p := range procs {
			f.t.Logf("---- output of %s ----\n%s", p.name, tail(p.out.String(), 60))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cli runs `socialsync` with args and returns its output.
func (f *fleet) cli(args ...string) string {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "socialsync"), args...)
	cmd.Env = append(append([]string{}, os.Environ()...), f.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		f.t.Fatalf("socialsync %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// admin calls the simulator's admin API.
func (f *fleet) admin(method, path string, in, out any) {
	f.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, f.simURL+path, body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		f.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			f.t.Fatal(err)
		}
	}
}

// contacts returns the live contacts of loc in the simulator.
func (f *fleet) contacts(loc string) []ghlsim.ContactView {
	f.t.Helper()
	return f.location(loc).Live().Contacts
}

// delivery is one HighLevel webhook delivery the relay passed on.
type delivery struct {
	body   []byte
	header http.Header
	status int
	answer string
}

// relay stands between the simulator's webhooks and the gateway, keeping
// what it passed on so that the test can send a delivery again.
type relay struct {
	mu         sync.Mutex
	gateway    string
	deliveries []delivery
}

func (r *relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	target := r.gateway
	r.mu.Unlock()
	if target == "" {
		http.Error(w, "no gateway yet", http.StatusTooManyRequests)
		return
	}
	out, _ := http.NewRequestWithContext(req.Context(), http.MethodPost, target+req.URL.Path, bytes.NewReader(body))
	out.Header = req.Header.Clone()
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	r.mu.Lock()
	r.deliveries = append(r.deliveries, delivery{body: body, header: req.Header.Clone(), status: resp.StatusCode, answer: string(answer)})
	r.mu.Unlock()
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (r *relay) stored() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.deliveries {
		if d.status == http.StatusOK && strings.Contains(d.answer, `"accepted"`) {
			out = append(out, d)
		}
	}
	return out
}

// agencyInstall runs `socialsync connect --user-type Company` and plays the
// browser at the consent page, which redirects to the command's loopback
// callback.
func agencyInstall(t *testing.T, f *fleet) {
	t.Helper()
	p := f.start("socialsync", nil, "connect", "--user-type", "Company", "--browser=false", "--listen", "127.0.0.1:0",
		"--nats", f.natsURL, "--timeout", "60s")
	var authURL string
	eventually(t, 30*time.Second, "the authorization URL printed", func() bool {
		authURL = firstURL(p.out.String())
		return authURL != ""
	})
	callback, _ := consent(t, authURL)
	resp, err := http.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("connect did not finish:\n%s", p.out.String())
	}
	if !strings.Contains(p.out.String(), "locations connected") {
		t.Fatalf("connect --user-type Company:\n%s", p.out.String())
	}
}

// firstURL is the first line of out that is a URL ("" when none is).
func firstURL(out string) string {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http") {
			return line
		}
	}
	return ""
}

var (
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
	chosenOpt   = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	scopesShown = regexp.MustCompile(`<span id="scopes">([^<]*)</span>`)
)

// consent plays the person at HighLevel's authorization page: it opens
// authURL and, when the simulator shows its consent page (config
// consentPage), submits the form with Approve for the sub-account chosen.
// It returns the redirect HighLevel answers (the callback with the code)
// and the scopes the page showed ("" without the consent page).
func consent(t *testing.T, authURL string) (callback, scopes string) {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		form := url.Values{"decision": {"approve"}}
		for _, m := range hiddenField.FindAllStringSubmatch(string(page), -1) {
			form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
		}
		if m := chosenOpt.FindStringSubmatch(string(page)); m != nil {
			form.Set("location_id", html.UnescapeString(m[1]))
		}
		if m := scopesShown.FindStringSubmatch(string(page)); m != nil {
			scopes = html.UnescapeString(m[1])
		}
		u, _ := url.Parse(authURL)
		resp, err = browser.PostForm(u.Scheme+"://"+u.Host+u.Path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	callback = resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || callback == "" {
		t.Fatalf("consent page: %s to %q\n%s", resp.Status, callback, page)
	}
	return callback, scopes
}

// simApp is an app the simulator publishes, with the key its webhooks are
// signed with.
type simApp struct {
	ClientID, ClientSecret, WebhookKey string
}

// app returns the simulator's first app.
func (f *fleet) app() simApp {
	f.t.Helper()
	var apps struct {
		Apps []struct {
			ClientID     string `json:"clientId"`
			ClientSecret string `json:"clientSecret"`
		} `json:"apps"`
		WebhookPublicKey string `json:"webhookPublicKey"`
	}
	f.admin(http.MethodGet, "/_sandbox/apps", nil, &apps)
	if len(apps.Apps) == 0 || apps.WebhookPublicKey == "" {
		f.t.Fatalf("the simulator publishes no app or webhook key: %+v", apps)
	}
	return simApp{apps.Apps[0].ClientID, apps.Apps[0].ClientSecret, apps.WebhookPublicKey}
}

func postWebhook(t *testing.T, gwURL string, body []byte, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, gwURL+"/v1/highlevel/webhooks", bytes.NewReader(body))
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}
