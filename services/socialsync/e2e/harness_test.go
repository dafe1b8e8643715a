package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
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
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(f.t))
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
