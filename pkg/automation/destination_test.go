package automation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackClient is a webhook client allowed to reach 127.0.0.1, the
// test receivers' address: the allow-list names 127.0.0.1/32, as an
// operator names an in-cluster receiver's CIDR.
func loopbackClient(t testing.TB) *http.Client {
	t.Helper()
	d, err := ParseAllowList("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	return d.NewClient(5 * time.Second)
}

// staticResolver resolves the names it holds, the stand-in for DNS (this
// machine has none) and for a rebinding attacker's answers.
type staticResolver map[string][]netip.Addr

func (r staticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestDestinationPolicy(t *testing.T) {
	d, err := ParseAllowList(" hooks.internal.example , 10.20.0.0/16,fd12::/16, 192.168.1.7")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host, addr string
		plain      bool
		want       string // empty: allowed
	}{
		{"api.example.com", "93.184.216.34", false, ""},
		{"api.example.com", "93.184.216.34", true, "plain http"},
		{"api.example.com", "2606:2800:220:1::1", false, ""},
		{"x", "127.0.0.1", false, "loopback"},
		{"x", "::1", false, "loopback"},
		{"x", "::ffff:127.0.0.1", false, "loopback"},
		{"x", "169.254.10.1", false, "link-local"},
		{"x", "fe80::1", false, "link-local"},
		{"x", "169.254.169.254", false, "metadata"},
		{"x", "fd00:ec2::254", false, "metadata"},
		{"x", "100.100.100.200", false, "metadata"},
		{"x", "0.0.0.0", false, "unspecified"},
		{"x", "::", false, "unspecified"},
		{"x", "224.0.0.1", false, "multicast"},
		{"x", "ff02::1", false, "multicast"},
		{"x", "255.255.255.255", false, "reserved"},
		{"x", "64:ff9b::7f00:1", false, "reserved"},
		{"x", "10.1.2.3", false, "private"},
		{"x", "172.16.5.5", false, "private"},
		{"x", "192.168.9.9", false, "private"},
		{"x", "100.64.1.1", false, "private"},
		{"x", "fc00::5", false, "private"},
		{"x", "10.20.3.4", true, ""},                     // a listed CIDR: http too
		{"x", "fd12::9", false, ""},                      // a listed IPv6 CIDR
		{"x", "192.168.1.7", true, ""},                   // a listed address
		{"hooks.internal.example", "10.9.9.9", true, ""}, // a listed host
		{"HOOKS.internal.example.", "172.20.0.1", false, ""},
		{"hooks.internal.example", "127.0.0.1", false, "loopback"},       // a listed host does not open loopback
		{"hooks.internal.example", "169.254.169.254", false, "metadata"}, // nor the metadata
	}
	for _, tt := range tests {
		t.Run(tt.host+" "+tt.addr, func(t *testing.T) {
			err := d.Allow(tt.host, netip.MustParseAddr(tt.addr), tt.plain)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (!errors.Is(err, ErrDestination) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want ErrDestination naming %q", err, tt.want)
			case err != nil && strings.Contains(err.Error(), tt.addr):
				t.Fatalf("err = %v names the address", err)
			}
		})
	}
	dev := &Destinations{AllowLoopback: true}
	if err := dev.Allow("localhost", netip.MustParseAddr("127.0.0.1"), true); err != nil {
		t.Errorf("development mode, loopback over http: %v", err)
	}
	if err := dev.Allow("x", netip.MustParseAddr("169.254.169.254"), false); !errors.Is(err, ErrDestination) {
		t.Errorf("development mode, metadata: %v", err)
	}
}

func TestParseAllowListRefusesBadEntries(t *testing.T) {
	for _, in := range []string{"10.0.0.0/33", "http://hooks.example", "hooks example", "-bad.example", "1.2.3.4/x"} {
		if _, err := ParseAllowList(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", strings.TrimSpace(in))) {
			t.Errorf("ParseAllowList(%q) = %v, want an error naming the entry", in, err)
		}
	}
	if _, err := ParseAllowList(""); err != nil {
		t.Errorf("empty list: %v", err)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// receiver serves 204 on a loopback listener that counts connections.
func receiver(t *testing.T) (*countingListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(cl) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return cl, port
}

// A webhook aimed inside is refused where the connection is made, also
// when a name resolves inside (DNS rebinding); the receiver sees no
// connection and the error names neither the address nor the port. An
// allow-listed destination is reached, over http too.
func TestWebhookDestinations(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, port := receiver(t)
	dns := staticResolver{
		"rebind.example.com": {netip.MustParseAddr("127.0.0.1")},
		"mixed.example.com":  {netip.MustParseAddr("10.0.0.8"), netip.MustParseAddr("127.0.0.1")},
		"receiver.internal":  {netip.MustParseAddr("127.0.0.1")},
	}
	open := &Destinations{Resolver: dns}
	listed, err := ParseAllowList("receiver.internal, 127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	listed.Resolver = dns
	tests := []struct {
		name string
		dest *Destinations
		url  string
		want string // empty: delivered
	}{
		{"loopback over http", open, "http://127.0.0.1:" + port + "/admin", "loopback"},
		{"loopback over https", open, "https://127.0.0.1:" + port + "/admin", "loopback"},
		{"loopback over IPv6", open, "https://[::1]:" + port + "/admin", "loopback"},
		{"name resolving to loopback", open, "https://rebind.example.com:" + port + "/admin", "loopback"},
		{"name resolving inside twice", open, "https://mixed.example.com:" + port + "/admin", "destination not allowed"},
		{"metadata", open, "http://169.254.169.254/latest/meta-data/", "metadata"},
		{"allow-listed name over http", listed, "http://receiver.internal:" + port + "/hook", ""},
		{"allow-listed CIDR over http", listed, "http://127.0.0.1:" + port + "/hook", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ln.n.Load()
			wh := &Webhooks{Client: tt.dest.NewClient(5 * time.Second), Secrets: DirSecrets(dir), Attempts: 3, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
			err := wh.Send(t.Context(), Delivery{URL: tt.url, Secret: "hook", ID: "id", Body: []byte(`{}`)})
			got := ln.n.Load() - before
			if tt.want == "" {
				if err != nil || got != 1 {
					t.Fatalf("Send = %v with %d connections; want delivered over 1", err, got)
				}
				return
			}
			if !errors.Is(err, ErrActionFailed) || !errors.Is(err, ErrDestination) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Send = %v; want ErrActionFailed and ErrDestination naming %q", err, tt.want)
			}
			if got != 0 {
				t.Errorf("the receiver accepted %d connections; want 0", got)
			}
			for _, leak := range []string{port, "127.0.0.1", "::1", "169.254", "10.0.0.8", "/admin", "example.com"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q names %q", err, leak)
				}
			}
		})
	}
}

// Failures name the status class or "network", never the address.
func TestWebhookReasonsNameTheClassOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/x"
	_ = ln.Close() // nothing listens: connection refused
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	wh := &Webhooks{Client: loopbackClient(t), Secrets: DirSecrets(dir), Attempts: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}
	err = wh.Send(t.Context(), Delivery{URL: closed, Secret: "hook", ID: "id", Body: []byte(`{}`)})
	if !errors.Is(err, ErrActionFailed) || !strings.Contains(err.Error(), "network") || strings.Contains(err.Error(), port) || strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("refused connection: %v; want ErrActionFailed naming network only", err)
	}
}
