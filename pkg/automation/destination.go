package automation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"
)

// ErrDestination is a webhook destination the policy refuses: an address
// inside (loopback, link-local, a cloud metadata address, …), a private
// address the allow-list does not name, or plain http to a destination
// the allow-list does not name. Its message never names the address.
var ErrDestination = errors.New("destination not allowed")

// destinationError is a refusal by the policy, saying why.
type destinationError struct{ why string }

func (e *destinationError) Error() string        { return ErrDestination.Error() + ": " + e.why }
func (e *destinationError) Is(target error) bool { return target == ErrDestination }

func refuse(why string) error { return &destinationError{why: why} }

// Resolver resolves host names; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Destinations is the policy of webhook destinations, applied where the
// connection is made, after DNS resolution: the address dialled is the
// address checked, so a name that resolves differently on the next look
// up (DNS rebinding) gains nothing.
//
//   - Always refused: the cloud metadata addresses, unspecified,
//     multicast, broadcast and reserved addresses.
//   - Loopback and link-local: refused unless a CIDR of the allow-list
//     covers the address, or AllowLoopback (development) for loopback.
//   - Private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): only
//     when the allow-list names the host or a CIDR covering the address.
//   - Plain http: only to a destination the allow-list names (its host,
//     or a CIDR covering the address); https otherwise.
type Destinations struct {
	hosts map[string]bool
	nets  []netip.Prefix
	// AllowLoopback lets webhooks reach loopback addresses, over http
	// too: `socialsync run`'s development mode, where receivers run on
	// the same machine.
	AllowLoopback bool
	// Resolver resolves host names; nil: net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds each connection attempt; zero: 10s.
	Timeout time.Duration
}

// ParseAllowList reads an allow-list: host names and CIDRs, separated by
// commas ("hooks.internal.example, 10.20.0.0/16"). An IP address stands
// for its own /32 or /128. A bad entry is an error naming it.
func ParseAllowList(s string) (*Destinations, error) {
	d := &Destinations{hosts: map[string]bool{}}
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
			continue
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("entry %q: not a CIDR", e)
			}
			d.nets = append(d.nets, p.Masked())
		default:
			if a, err := netip.ParseAddr(e); err == nil {
				d.nets = append(d.nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if !validHostName(e) {
				return nil, fmt.Errorf("entry %q: not a host name, an IP address or a CIDR", e)
			}
			d.hosts[strings.ToLower(strings.TrimSuffix(e, "."))] = true
		}
	}
	return d, nil
}

// validHostName reports whether s is a DNS host name: dot-separated labels
// of letters, digits and '-' (IDNs in their xn-- form).
func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

var (
	// metadata are the instance metadata services of the clouds: never
	// reachable, whatever the allow-list says.
	metadata = []netip.Prefix{
		netip.MustParsePrefix("169.254.169.254/32"), // AWS, GCP, Azure, OpenStack, DigitalOcean, …
		netip.MustParsePrefix("169.254.170.2/32"),   // AWS ECS task metadata
		netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS over IPv6
		netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud
		netip.MustParsePrefix("168.63.129.16/32"),   // Azure wire server
		netip.MustParsePrefix("192.0.0.192/32"),     // Oracle Cloud
	}
	private = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
	reserved = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("240.0.0.0/4"), // with 255.255.255.255
		netip.MustParsePrefix("192.0.0.0/24"),
		netip.MustParsePrefix("198.18.0.0/15"),
		netip.MustParsePrefix("64:ff9b::/96"), // NAT64: would reach any IPv4 address
		netip.MustParsePrefix("2002::/16"),    // 6to4: likewise
	}
)

func within(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// listed reports whether the allow-list names host or a CIDR covering a.
func (d *Destinations) listed(host string, a netip.Addr) bool {
	return d.hosts[strings.ToLower(strings.TrimSuffix(host, "."))] || within(a, d.nets)
}

// Allow decides whether host (as the URL names it), resolved to a, may be
// reached; plainHTTP is an http URL. The error matches ErrDestination and
// says why without naming the address.
func (d *Destinations) Allow(host string, a netip.Addr, plainHTTP bool) error {
	a = a.Unmap()
	inList := within(a, d.nets)
	switch {
	case within(a, metadata):
		return refuse("a cloud metadata address")
	case a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() || within(a, reserved):
		return refuse("an unspecified, multicast or reserved address")
	case a.IsLoopback():
		if !inList && !d.AllowLoopback {
			return refuse("a loopback address")
		}
		return nil
	case a.IsLinkLocalUnicast():
		if !inList {
			return refuse("a link-local address")
		}
	case within(a, private) && !d.listed(host, a):
		return refuse("a private address the allow-list does not name")
	}
	if plainHTTP && !d.listed(host, a) {
		return refuse("plain http to a destination the allow-list does not name (want https)")
	}
	return nil
}

type plainHTTPKey struct{}

// withPlainHTTP marks ctx as the context of an http (not https) request,
// for the dialer to apply the rule of plain http.
func withPlainHTTP(ctx context.Context) context.Context {
	return context.WithValue(ctx, plainHTTPKey{}, true)
}

// DialContext connects to addr ("host:port") after checking every
// address the host resolves to; it dials the checked addresses only. Use
// it as an http.Transport's DialContext.
func (d *Destinations) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if addrs, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, fmt.Errorf("resolve the webhook's host: %w", err)
		}
	}
	plain, _ := ctx.Value(plainHTTPKey{}).(bool)
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: timeout}
	var errs []error
	for _, a := range addrs {
		if err := d.Allow(host, a, plain); err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := dialer.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("resolve the webhook's host: no address")
	}
	return nil, errors.Join(errs...)
}

// NewClient returns the HTTP client of webhooks: connections go through
// d's checks, no proxy is taken from the environment (a proxy would make
// the connection on the policy's behalf), and redirects are not followed
// (a signed body is for the URL the workflow names; a redirect could
// point anywhere).
func (d *Destinations) NewClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
