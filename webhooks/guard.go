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
// must not reach: anything the IANA special-purpose address registries do not mark
// globally reachable (loopback, private, link-local and cloud metadata, CGNAT, benchmarking,
// documentation, 6to4, Teredo, discard, ...), multicast, and IPv6 outside global unicast.
// Guard.AllowPrivate lifts the rule for loopback and private networks only.
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
	// AllowPrivate allows loopback, RFC 1918, CGNAT and unique local addresses (development
	// mode and tests). Link-local addresses (169.254.169.254, the cloud metadata service)
	// and every other special-purpose range stay forbidden.
	AllowPrivate bool
	// Resolver resolves host names in CheckURL; nil means net.DefaultResolver.
	Resolver Resolver
}

type blockedRange struct {
	prefix netip.Prefix
	what   string
	dev    bool // allowed when Guard.AllowPrivate
}

// blocked lists the ranges a webhook may not reach, with the reason given in errors: the
// entries of the IANA IPv4 and IPv6 Special-Purpose Address Registries that are not globally
// reachable (conservatively including whole blocks with a few reachable exceptions), plus
// multicast and the reserved ranges. IPv4-mapped and well-known NAT64 addresses are judged by
// the IPv4 address they embed; IPv6 outside 2000::/3 is refused as not global unicast.
var blocked = func() []blockedRange {
	var out []blockedRange
	for _, r := range []struct {
		cidr, what string
		dev        bool
	}{
		{"0.0.0.0/8", "an unspecified (this-network, RFC 791)", false},
		{"10.0.0.0/8", "a private (RFC 1918)", true},
		{"100.64.0.0/10", "a carrier-grade NAT (shared, RFC 6598)", true},
		{"127.0.0.0/8", "a loopback", true},
		{"169.254.0.0/16", "a link-local (cloud metadata, RFC 3927)", false},
		{"172.16.0.0/12", "a private (RFC 1918)", true},
		{"192.0.0.0/24", "an IETF protocol assignment (RFC 6890)", false},
		{"192.0.2.0/24", "a documentation (TEST-NET-1, RFC 5737)", false},
		{"192.88.99.0/24", "a 6to4 relay anycast (deprecated, RFC 7526)", false},
		{"192.168.0.0/16", "a private (RFC 1918)", true},
		{"198.18.0.0/15", "a benchmarking (RFC 2544)", false},
		{"198.51.100.0/24", "a documentation (TEST-NET-2, RFC 5737)", false},
		{"203.0.113.0/24", "a documentation (TEST-NET-3, RFC 5737)", false},
		{"224.0.0.0/4", "a multicast", false},
		{"240.0.0.0/4", "a reserved (RFC 1112)", false},
		{"::/128", "an unspecified", false},
		{"::1/128", "a loopback", true},
		{"::ffff:0:0:0/96", "an IPv4-translated (SIIT, RFC 6052)", false},
		{"::/96", "an IPv4-compatible (deprecated, RFC 4291)", false},
		{"64:ff9b:1::/48", "a local-use NAT64 (RFC 8215)", false},
		{"100::/64", "a discard-only (RFC 6666)", false},
		{"100:0:0:1::/64", "a dummy (RFC 9780)", false},
		{"2001:db8::/32", "a documentation (RFC 3849)", false},
		{"2001::/32", "a Teredo (RFC 4380)", false},
		{"2001::/23", "an IETF protocol assignment (RFC 2928)", false},
		{"2002::/16", "a 6to4 (RFC 3056)", false},
		{"3fff::/20", "a documentation (RFC 9637)", false},
		{"5f00::/16", "a segment routing SID (RFC 9602)", false},
		{"fc00::/7", "a unique local (private, RFC 4193)", true},
		{"fe80::/10", "a link-local", false},
		{"fec0::/10", "a site-local (deprecated)", false},
		{"ff00::/8", "a multicast", false},
	} {
		out = append(out, blockedRange{netip.MustParsePrefix(r.cidr), r.what, r.dev})
	}
	return out
}()

var (
	// nat64 is the well-known NAT64 prefix: its addresses embed an IPv4 address, checked as such.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour addresses embed the IPv4 address of their 6to4 router (bytes 2 to 5).
	sixToFour = netip.MustParsePrefix("2002::/16")
	// globalUnicast is the only IPv6 block allocated for global unicast.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// CheckIP returns an error wrapping ErrForbiddenAddress when ip is not a globally reachable
// unicast address. IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry.
func CheckIP(ip netip.Addr) error { return checkIP(ip, false) }

func checkIP(ip netip.Addr, allowPrivate bool) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrForbiddenAddress)
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() && nat64.Contains(ip) {
		b := ip.As16()
		inner := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		if err := checkIP(inner, allowPrivate); err != nil {
			return fmt.Errorf("NAT64 address %s embeds %s: %w", ip, inner, err)
		}
		return nil
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: %s is the broadcast address", ErrForbiddenAddress, ip)
	}
	for _, r := range blocked { // the first (most specific) range containing ip decides
		if !r.prefix.Contains(ip) {
			continue
		}
		if allowPrivate && r.dev {
			return nil
		}
		if sixToFour.Contains(ip) {
			b := ip.As16()
			return fmt.Errorf("%w: %s is %s address (it embeds %s)", ErrForbiddenAddress, ip, r.what,
				netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
		return fmt.Errorf("%w: %s is %s address", ErrForbiddenAddress, ip, r.what)
	}
	if ip.Is6() && !globalUnicast.Contains(ip) {
		return fmt.Errorf("%w: %s is not an IPv6 global unicast address", ErrForbiddenAddress, ip)
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
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return checkIP(ip, g.AllowPrivate)
	}
	if g.AllowPrivate {
		return nil // names are checked when dialled (Control)
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
		// The resolver's own error names the server's DNS resolver; clients get only what
		// happened to their name.
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return fmt.Errorf("%w: cannot resolve %s: no such host", ErrBadURL, host)
		case errors.As(err, &dnsErr) && dnsErr.IsTimeout, errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("%w: cannot resolve %s: the lookup timed out", ErrBadURL, host)
		default:
			return fmt.Errorf("%w: cannot resolve %s", ErrBadURL, host)
		}
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
// (AllowPrivate allows loopback and private ones, never link-local). It sees the address actually dialled, after name resolution.
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dialled address %q", ErrForbiddenAddress, address)
	}
	return checkIP(ap.Addr(), g.AllowPrivate)
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
