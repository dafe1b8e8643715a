package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// `socialsync run` with no API key configured prints a development key
// and the dashboard's address; the key opens the API, and the same key is
// used on the next start.
func TestRunPrintsADevelopmentKeyForTheDashboard(t *testing.T) {
	dir := t.TempDir()
	httpAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	t.Setenv("SOCIALSYNC_DATA_DIR", dir)
	t.Setenv("SOCIALSYNC_HTTP_ADDR", httpAddr)
	t.Setenv("SOCIALSYNC_EMBEDDED_NATS_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_SANDBOX_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_DEMO_EVERY", "0")
	t.Setenv("SOCIALSYNC_LOG_LEVEL", "error")

	start := func() (string, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut fleettest.Buffer
		done := make(chan int, 1)
		go func() { done <- Main(ctx, []string{"run"}, &out, &errOut) }()
		keyRE := regexp.MustCompile(`development API key (sk-dev-[0-9a-f]{32})`)
		deadline := time.Now().Add(30 * time.Second)
		for !keyRE.MatchString(out.String()) {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("no development key printed:\n%s\n%s", out.String(), errOut.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if want := "Dashboard: http://" + httpAddr + "/"; !bytes.Contains([]byte(out.String()), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
		return keyRE.FindStringSubmatch(out.String())[1], func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("run exited %d: %s", code, errOut.String())
			}
		}
	}
	key, stop := start()
	get := func(k string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/locations", nil)
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	status, body := get(key)
	var list struct{ Items []struct{ ID string } }
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Items) != 5 {
		t.Fatalf("locations with the printed key: %d %s", status, body)
	}
	if status, _ := get("sk-dev-wrong"); status != http.StatusUnauthorized {
		t.Errorf("a wrong key: %d", status)
	}
	stop()
	again, stop := start()
	defer stop()
	if again != key {
		t.Errorf("second start printed another key")
	}
}

// `socialsync run` without SOCIALSYNC_HTTP_ADDR serves the gateway on
// 127.0.0.1:8080, as it prints, and not on the machine's other addresses.
func TestRunBindsLoopbackByDefault(t *testing.T) {
	if ln, err := net.Listen("tcp", ":8080"); err != nil {
		t.Skipf("port 8080 is taken on this machine: %v", err)
	} else {
		ln.Close()
	}
	t.Setenv("SOCIALSYNC_DATA_DIR", t.TempDir())
	t.Setenv("SOCIALSYNC_HTTP_ADDR", "")
	os.Unsetenv("SOCIALSYNC_HTTP_ADDR")
	t.Setenv("SOCIALSYNC_EMBEDDED_NATS_PORT", strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_SANDBOX_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_DEMO_EVERY", "0")
	t.Setenv("SOCIALSYNC_LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut fleettest.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"run"}, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("run exited %d: %s", code, errOut.String())
		}
	})
	fleettest.Eventually(t, 30*time.Second, "the dashboard's address printed", func() bool {
		return strings.Contains(out.String(), "Dashboard: http://")
	})
	for _, want := range []string{"Dashboard: http://127.0.0.1:8080/", "listening on                127.0.0.1:8080 (this machine only)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	resp, err := http.Get("http://127.0.0.1:8080/healthz")
	if err != nil {
		t.Fatalf("the printed address does not answer: %v", err)
	}
	resp.Body.Close()
	// Every other address of this machine is refused.
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		tried++
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), "8080"), 2*time.Second); err == nil {
			c.Close()
			t.Errorf("the gateway answers on %s:8080: it listens on every interface", ipn.IP)
		}
	}
	t.Logf("checked %d non-loopback addresses", tried)
}

// TestRunStopsCleanlyWhileWaitingForNATS: with an external NATS that is
// not up yet, `socialsync run` waits for it, says so, and a stop signal
// meanwhile ends it with status 0, as it ends a worker.
func TestRunStopsCleanlyWhileWaitingForNATS(t *testing.T) {
	t.Setenv("SOCIALSYNC_DATA_DIR", t.TempDir())
	t.Setenv("SOCIALSYNC_NATS_URL", "nats://127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_HTTP_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_SANDBOX_ADDR", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	t.Setenv("SOCIALSYNC_DEMO_EVERY", "0")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut fleettest.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"run"}, &out, &errOut) }()
	fleettest.Eventually(t, 30*time.Second, "the wait for NATS logged", func() bool {
		return strings.Contains(errOut.String(), "waiting for nats")
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("stopped while waiting for NATS, run exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30 s of its context ending")
	}
}
