package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress means an endpoint URL points (or resolves) to an address that webhooks
// must not reach: loopback, private, link-local (cloud metadata), CGNAT, multicast,
// unspecified or reserved. Guard.AllowPrivate lifts the rule (development, tests).
var ErrForbiddenAddress = errors.New("webhooks: endpoint address not allowed")

// ErrBadURL means an endpoint URL is not an absolute http(s) URL that webhooks can use.
var ErrBadURL = errors.New("webhooks: bad endpoint URL")

// Resolver looks host names up; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard keeps webhook requests away from the server's own network (SSRF). It checks a URL
// when an endpoint is saved (CheckURL) and every address actually dialled when a request is
// sent (Control, on a net.Dialer), so a host name that later resolves elsewhere (DNS
// rebinding) is still refused.
type Guard struct {
	// AllowPrivate allows every address (development mode and tests).
	AllowPrivate bool
	// Resolver resolves host names in CheckURL; nil means net.DefaultResolver.
	Resolver Resolver
}

type blockedRange struct {
	prefix netip.Prefix
	what   string
}

// blocked lists the ranges a webhook may not reach, with the reason given in errors.
var blocked = func() []blockedRange {
	var out []blockedRange
	for _, r := range []struct{ cidr, what string }{
		{"0.0.0.0/8", "an unspecified (this-network)"},
		{"10.0.0.0/8", "a private (RFC 1918)"},
		{"100.64.0.0/10", "a carrier-grade NAT (RFC 6598)"},
		{"127.0.0.0/8", "a loopback"},
		{"169.254.0.0/16", "a link-local (cloud metadata)"},
		{"172.16.0.0/12", "a private (RFC 1918)"},
		{"192.0.0.0/24", "an IETF protocol assignment"},
		{"192.168.0.0/16", "a private (RFC 1918)"},
		{"198.18.0.0/15", "a benchmarking (RFC 2544)"},
		{"224.0.0.0/4", "a multicast"},
		{"240.0.0.0/4", "a reserved"},
		{"::/128", "an unspecified"},
		{"::1/128", "a loopback"},
		{"::/96", "an IPv4-compatible (deprecated)"},
		{"64:ff9b:1::/48", "a local-use NAT64"},
		{"100::/64", "a discard-only"},
		{"fc00::/7", "a unique local (private)"},
		{"fe80::/10", "a link-local"},
		{"fec0::/10", "a site-local (deprecated)"},
		{"ff00::/8", "a multicast"},
	} {
		out = append(out, blockedRange{netip.MustParsePrefix(r.cidr), r.what})
	}
	return out
}()

// nat64 is the well-known NAT64 prefix: its addresses embed an IPv4 address, checked as such.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckIP returns an error wrapping ErrForbiddenAddress when ip is not a public unicast
// address. IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry.
func CheckIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		inner := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if err := CheckIP(inner); err != nil {
			return fmt.Errorf("NAT64 address %s embeds %s: %w", ip, inner, err)
		}
		return nil
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: %s is the broadcast address", ErrForbiddenAddress, ip)
	}
	for _, r := range blocked {
		if r.prefix.Contains(ip) {
			return fmt.Errorf("%w: %s is %s address", ErrForbiddenAddress, ip, r.what)
		}
	}
	return nil
}

// ParseURL validates an endpoint URL without resolving it: absolute http or https, a host,
// no credentials, no fragment, at most 2048 bytes. It returns the parsed URL.
func ParseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadURL)
	}
	if len(raw) > 2048 {
		return nil, fmt.Errorf("%w: longer than 2048 bytes", ErrBadURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("%w: %q has no scheme (want https://...)", ErrBadURL, clip(raw))
	default:
		return nil, fmt.Errorf("%w: scheme %q is not http or https", ErrBadURL, clip(u.Scheme))
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: %q has no host", ErrBadURL, clip(raw))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL are not allowed (verify the signature instead)", ErrBadURL)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%w: a fragment is not allowed", ErrBadURL)
	}
	if p := u.Port(); p != "" {
		if _, err := netip.ParseAddrPort("0.0.0.0:" + p); err != nil || p == "0" {
			return nil, fmt.Errorf("%w: port %q is not a port number", ErrBadURL, clip(p))
		}
	}
	return u, nil
}

// CheckURL validates raw with ParseURL and, unless AllowPrivate, refuses it when its host is
// a forbidden address or resolves to one (any of its addresses) or does not resolve.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := ParseURL(raw)
	if err != nil {
		return err
	}
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return CheckIP(ip)
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s is a loopback name", ErrForbiddenAddress, host)
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: resolve %s: %v", ErrBadURL, host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("%w: %s has no addresses", ErrBadURL, host)
	}
	for _, ip := range ips {
		if err := CheckIP(ip); err != nil {
			return fmt.Errorf("%s resolves to a forbidden address: %w", host, err)
		}
	}
	return nil
}

// Control is a net.Dialer Control hook that refuses connections to forbidden addresses
// (unless AllowPrivate). It sees the address actually dialled, after name resolution.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrForbiddenAddress, address)
	}
	return CheckIP(ap.Addr())
}

// NewHTTPClient returns the client webhook requests should use: every connection passes
// g.Control, no proxy is used (it would hide the real destination), redirects are not
// followed (a 3xx response is a failed attempt), and each request is bounded by timeout.
func NewHTTPClient(g Guard, timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: g.Control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
