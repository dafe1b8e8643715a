package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strconv"
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
