package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/services/gateway"
)

// served starts a gateway with cfg changed by change, mounted by New on the
// fleet's own HTTP server (as bin/gateway serves it), and returns that
// server's address.
func served(t *testing.T, change func(*gateway.Config)) (*world, string) {
	t.Helper()
	env := fleettest.Start(t, "demo")
	deps := gatewayDeps(t, env)
	cfg := testConfig(deps)
	if change != nil {
		change(&cfg)
	}
	g, err := gateway.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, g.Run)
	if err := deps.Health.Listen(); err != nil {
		t.Fatal(err)
	}
	fleettest.Run(t, deps.Health.Run)
	return &world{Env: env, gw: g, cfg: cfg, gd: deps}, deps.Health.Addr()
}

// rawConn dials addr; the connection is closed at cleanup and every read
// gives up after limit.
func rawConn(t *testing.T, addr string, limit time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(limit))
	return c, bufio.NewReader(c)
}

// A declared body over the limit is refused before any of it is read: a
// client that waits for "100 Continue" (curl does, for large bodies) gets
// 413 instead, and the connection is closed after it.
func TestDeclaredOversizeRefusedBeforeContinue(t *testing.T) {
	w, addr := served(t, nil)
	loc := w.Locations[0].ID
	const size = 12 << 20
	for name, path := range map[string]string{
		"webhook":  "/v1/webhooks/posts",
		"trigger":  "/v1/locations/" + loc + "/triggers/post",
		"workflow": "/v1/workflows",
	} {
		t.Run(name, func(t *testing.T) {
			c, br := rawConn(t, addr, 10*time.Second)
			method := "POST"
			if name == "workflow" {
				method = "PUT"
			}
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
				"%s: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n",
				method, path, testKey, gateway.HeaderSignature, gateway.Sign(testSecret, time.Now(), nil), size)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer to the headers: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !contains(string(body), `"too_large"`, strconv.Itoa(size), "4096 bytes") {
				t.Fatalf("answer %s %s; want 413 naming the declared size and the limit, before 100 Continue", resp.Status, body)
			}
			if !resp.Close {
				t.Errorf("the connection is kept open after a refused body: %v", resp.Header)
			}
			// The server closes its side: the next read ends (EOF), it does
			// not wait for the 12 MB.
			if _, err := br.ReadByte(); err == nil || isTimeout(err) {
				t.Errorf("after the 413 the connection is still open (read: %v)", err)
			}
		})
	}
}

// A chunked body (no declared length) over the limit is cut off at the
// limit with 413.
func TestChunkedOversizeRefused(t *testing.T) {
	w, addr := served(t, nil)
	loc := w.Locations[0].ID
	c, br := rawConn(t, addr, 10*time.Second)
	fmt.Fprintf(c, "POST /v1/webhooks/posts HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"+
		"%s: %s\r\nTransfer-Encoding: chunked\r\n\r\n", gateway.HeaderSignature, gateway.Sign(testSecret, time.Now(), nil))
	go func() {
		// The sender goes on until the server closes the connection.
		chunk := `{"locationId":"` + loc + `","tagIds":["` + strings.Repeat("a", 64<<10) + `"]}`
		for range 12 << 20 / len(chunk) {
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		fmt.Fprint(c, "0\r\n\r\n")
	}()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !contains(string(body), `"too_large"`, "4096 bytes") {
		t.Fatalf("answer %s %s; want 413 naming the limit", resp.Status, body)
	}
}

// A body that trickles in is cut off after SOCIALSYNC_GATEWAY_BODY_TIMEOUT
// with 408 and the connection closed; a body that arrives in time is
// served, even when its handler then runs past the timeout.
func TestSlowBodyCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	w, addr := served(t, func(c *gateway.Config) { c.BodyTimeout = timeout })
	loc := w.Locations[0].ID
	body := jsonBody(t, postEvent(loc, "slow-1"))

	c, br := rawConn(t, addr, 10*time.Second)
	began := time.Now()
	fmt.Fprintf(c, "POST /v1/webhooks/posts HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"+
		"%s: %s\r\nContent-Length: %d\r\n\r\n%s", gateway.HeaderSignature, gateway.Sign(testSecret, time.Now(), body), len(body), body[:10])
	// ...and nothing more.
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within 10s to a stalled body: %v", err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !contains(string(answer), `"timeout"`) {
		t.Fatalf("stalled body: %s %s; want 408", resp.Status, answer)
	}
	if _, err := br.ReadByte(); err == nil || isTimeout(err) {
		t.Errorf("after the 408 the connection is still open (read: %v)", err)
	}
	if took := time.Since(began); took < timeout {
		t.Errorf("cut off after %v, before the %v allowed", took, timeout)
	}

	// The whole body in time: accepted, and the connection serves the
	// next request.
	c2, br2 := rawConn(t, addr, 10*time.Second)
	for i, id := range []string{"slow-2", "slow-3"} {
		b := jsonBody(t, postEvent(loc, id))
		fmt.Fprintf(c2, "POST /v1/webhooks/posts HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"+
			"%s: %s\r\nContent-Length: %d\r\n\r\n%s", gateway.HeaderSignature, gateway.Sign(testSecret, time.Now(), b), len(b), b)
		resp, err := http.ReadResponse(br2, nil)
		if err != nil {
			t.Fatalf("request %d on a kept-alive connection: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("request %d: %s", i+1, resp.Status)
		}
		if i == 0 {
			time.Sleep(2 * timeout) // idle between requests: not a body deadline
		}
	}
}

// The event stream is not subject to the body deadline, and each replica
// serves at most SOCIALSYNC_GATEWAY_MAX_SSE_CLIENTS streams: one more gets
// 503 with Retry-After; once a stream ends its place is free again.
func TestEventStreamsCapped(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, addr := served(t, func(c *gateway.Config) { c.MaxSSEClients = 2; c.BodyTimeout = timeout })
	open := func() (*http.Response, context.CancelFunc) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		return resp, func() { cancel(); resp.Body.Close() }
	}
	var streams []*http.Response
	for i := range 2 {
		resp, stop := open()
		t.Cleanup(stop)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %s", i+1, resp.Status)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "retry:") {
			t.Fatalf("stream %d: %q %v", i+1, line, err)
		}
		streams = append(streams, resp)
	}
	third, stop := open()
	if third.StatusCode == http.StatusOK {
		stop()
		t.Fatal("a third event stream was opened; want 503 past SOCIALSYNC_GATEWAY_MAX_SSE_CLIENTS=2")
	}
	body, _ := io.ReadAll(third.Body)
	stop()
	if third.StatusCode != http.StatusServiceUnavailable || third.Header.Get("Retry-After") == "" ||
		!contains(string(body), `"too_many_streams"`, "at most 2 event streams") {
		t.Fatalf("third stream: %s %v %s; want 503 with Retry-After", third.Status, third.Header, body)
	}
	// Past the body deadline both streams still hold their places: the
	// deadline does not end them.
	time.Sleep(2 * timeout)
	if again, stop := open(); again.StatusCode != http.StatusServiceUnavailable {
		stop()
		t.Fatalf("past the body deadline a third stream got %s: the open streams were ended", again.Status)
	} else {
		stop()
	}
	// Closing one frees its place.
	streams[0].Body.Close()
	fleettest.Eventually(t, 5*time.Second, "a fourth stream once one closed", func() bool {
		resp, stop := open()
		defer stop()
		return resp.StatusCode == http.StatusOK
	})
}

// A report range is checked from its dates alone: ten thousand years are
// refused without building ten thousand years of days.
func TestHugeReportRangeRefusedBeforeBuilding(t *testing.T) {
	w, addr := served(t, nil)
	loc := w.Locations[0].ID
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	get("/v1/locations/" + loc + "/reports/range?from=2026-11-20&to=2026-11-26") // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	began := time.Now()
	status, body := get("/v1/locations/" + loc + "/reports/range?from=0001-01-01&to=9999-12-31")
	took := time.Since(began)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("0001-01-01 … 9999-12-31: %d in %v, %d KB allocated in the process meanwhile", status, took, allocated>>10)
	if status != http.StatusBadRequest || !contains(body, "3652059 days", "at most "+strconv.Itoa(report.MaxDays)) {
		t.Fatalf("answer %d %s; want 400 naming the length and the limit", status, body)
	}
	// The whole process (JetStream server included) allocates far less
	// than one day string per day of the range would take.
	if allocated > 16<<20 {
		t.Errorf("the refusal allocated %d bytes: the range was built before it was checked", allocated)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
