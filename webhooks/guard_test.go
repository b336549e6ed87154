package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/chainpay/chainpay/webhooks"
)

func TestCheckIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip      string
		allowed bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"172.32.0.1", true},       // just outside 172.16/12
		{"100.128.0.1", true},      // just outside CGNAT
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"0.0.0.0", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},       // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false}, // IPv4-mapped metadata
		{"64:ff9b::a00:1", false},         // NAT64 of 10.0.0.1
		{"::127.0.0.1", false},            // IPv4-compatible
		// IANA special-purpose registries (issue 24).
		{"2002:7f00:1::", false},      // 6to4 of 127.0.0.1
		{"2002:5db8:d70e::1", false},  // 6to4 of a public address: deprecated, refused too
		{"2001::1", false},            // Teredo
		{"2001:2::1", false},          // benchmarking (2001:2::/48, inside 2001::/23)
		{"2001:db8::1", false},        // documentation
		{"3fff::1", false},            // documentation (RFC 9637)
		{"100::1", false},             // discard-only
		{"64:ff9b:1::a", false},       // local-use NAT64
		{"64:ff9b::7f00:1", false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
		{"::ffff:0:a00:1", false},     // IPv4-translated
		{"5f00::1", false},            // SRv6 SID
		{"4000::1", false},            // outside 2000::/3
		{"192.0.2.10", false},         // TEST-NET-1
		{"198.51.100.10", false},      // TEST-NET-2
		{"203.0.113.10", false},       // TEST-NET-3
		{"198.18.0.1", false},         // benchmarking
		{"198.19.255.255", false},
		{"192.88.99.1", false},     // 6to4 relay anycast
		{"192.0.0.8", false},       // IETF protocol assignments
		{"100.100.100.100", false}, // CGNAT
		{"233.252.0.1", false},     // MCAST-TEST-NET
		{"198.20.0.1", true},       // just outside benchmarking
		{"203.0.114.1", true},      // just outside TEST-NET-3
		{"2001:4860:4860::8888", true},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			t.Parallel()
			err := webhooks.CheckIP(netip.MustParseAddr(tc.ip))
			if tc.allowed && err != nil {
				t.Fatalf("CheckIP(%s) = %v, want allowed", tc.ip, err)
			}
			if !tc.allowed && !errors.Is(err, webhooks.ErrForbiddenAddress) {
				t.Fatalf("CheckIP(%s) = %v, want ErrForbiddenAddress", tc.ip, err)
			}
		})
	}
}

// fakeResolver answers from a table.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

var resolver = fakeResolver{
	"hooks.example.com": {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"internal.corp":     {"10.0.0.7"},
	"mixed.example.com": {"93.184.215.14", "192.168.0.10"},
	"metadata.example":  {"169.254.169.254"},
	"rebind.example":    {"93.184.215.14"}, // public when saved; see TestGuardAtDeliveryTime
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	strict := webhooks.Guard{Resolver: resolver}
	dev := webhooks.Guard{AllowPrivate: true, Resolver: resolver}
	tests := []struct {
		url        string
		strict     error // nil: allowed
		dev        error
		wantInText string
	}{
		{"https://hooks.example.com/chainpay", nil, nil, ""},
		{"http://hooks.example.com:8080/x?y=1", nil, nil, ""},
		{"https://93.184.215.14/hook", nil, nil, ""},
		{"http://127.0.0.1:8080/hook", webhooks.ErrForbiddenAddress, nil, "loopback"},
		{"http://[::1]/hook", webhooks.ErrForbiddenAddress, nil, "loopback"},
		{"http://localhost:3000/hook", webhooks.ErrForbiddenAddress, nil, "loopback"},
		{"http://api.localhost/hook", webhooks.ErrForbiddenAddress, nil, "loopback"},
		{"http://169.254.169.254/latest/meta-data/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "metadata"},
		{"http://[fe80::1]/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "link-local"},
		{"http://[::ffff:169.254.169.254]/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "metadata"},
		{"http://[2002:7f00:1::]/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "embeds 127.0.0.1"},
		{"http://192.0.2.1/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "documentation"},
		{"http://metadata.example/", webhooks.ErrForbiddenAddress, nil, "metadata"}, // dev: refused when dialled (TestDevGuardRefusesMetadataWhenDialled)
		{"https://internal.corp/hook", webhooks.ErrForbiddenAddress, nil, "RFC 1918"},
		{"https://mixed.example.com/hook", webhooks.ErrForbiddenAddress, nil, "192.168.0.10"},
		{"http://100.64.1.1/", webhooks.ErrForbiddenAddress, nil, "carrier-grade"},
		{"http://[fd00::1]/", webhooks.ErrForbiddenAddress, nil, "unique local"},
		{"http://0.0.0.0/", webhooks.ErrForbiddenAddress, webhooks.ErrForbiddenAddress, "unspecified"},
		{"https://nxdomain.example/hook", webhooks.ErrBadURL, nil, "resolve"},
		{"ftp://hooks.example.com/x", webhooks.ErrBadURL, webhooks.ErrBadURL, "scheme"},
		{"file:///etc/passwd", webhooks.ErrBadURL, webhooks.ErrBadURL, "scheme"},
		{"hooks.example.com/x", webhooks.ErrBadURL, webhooks.ErrBadURL, "scheme"},
		{"https:///nohost", webhooks.ErrBadURL, webhooks.ErrBadURL, "no host"},
		{"https://user:pw@hooks.example.com/", webhooks.ErrBadURL, webhooks.ErrBadURL, "credentials"},
		{"https://hooks.example.com/#frag", webhooks.ErrBadURL, webhooks.ErrBadURL, "fragment"},
		{"https://hooks.example.com:99999/", webhooks.ErrBadURL, webhooks.ErrBadURL, "port"},
		{"", webhooks.ErrBadURL, webhooks.ErrBadURL, "empty"},
		{"https://hooks.example.com/" + strings.Repeat("a", 2100), webhooks.ErrBadURL, webhooks.ErrBadURL, "2048"},
	}
	for _, tc := range tests {
		t.Run(tc.url[:min(len(tc.url), 60)], func(t *testing.T) {
			t.Parallel()
			for _, g := range []struct {
				name  string
				guard webhooks.Guard
				want  error
			}{{"strict", strict, tc.strict}, {"dev", dev, tc.dev}} {
				err := g.guard.CheckURL(context.Background(), tc.url)
				if g.want == nil && err != nil || g.want != nil && !errors.Is(err, g.want) {
					t.Fatalf("%s CheckURL = %v, want %v", g.name, err, g.want)
				}
				if g.want != nil && !strings.Contains(err.Error(), tc.wantInText) {
					t.Fatalf("%s CheckURL error %q does not say %q", g.name, err, tc.wantInText)
				}
			}
		})
	}
}

// FuzzParseURL checks that URL validation never panics and that an accepted URL is http(s)
// with a host.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://[::1]:80/", "ftp://x", "https://u@h/", "http://%zz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := webhooks.ParseURL(raw)
		if err != nil {
			if !errors.Is(err, webhooks.ErrBadURL) {
				t.Fatalf("ParseURL(%q) error %v is not ErrBadURL", raw, err)
			}
			return
		}
		if s := strings.ToLower(u.Scheme); s != "http" && s != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("ParseURL accepted %q: %+v", raw, u)
		}
	})
}

// TestDevGuardRefusesMetadataWhenDialled: the dev guard allows loopback and private networks
// but never the link-local cloud metadata address, whatever name leads there.
func TestDevGuardRefusesMetadataWhenDialled(t *testing.T) {
	t.Parallel()
	dev := webhooks.Guard{AllowPrivate: true}
	for addr, allowed := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:8080": true, "10.0.0.7:80": true, "[fd00::1]:80": true,
		"169.254.169.254:80": false, "[fe80::1]:80": false, "[::ffff:169.254.169.254]:80": false, "[64:ff9b::a9fe:a9fe]:80": false,
		"192.0.2.1:80": false, "[2002:a9fe:a9fe::]:80": false,
	} {
		err := dev.Control("tcp", addr, nil)
		if allowed != (err == nil) {
			t.Errorf("dev Control(%s) = %v, want allowed=%v", addr, err, allowed)
		}
	}
}

// dnsFailure fails every lookup the way the system resolver does, naming its server.
type dnsFailure struct{ notFound bool }

func (d dnsFailure) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "server misbehaving", Name: host, Server: "10.53.0.2:53", IsNotFound: d.notFound}
}

// TestCheckURLHidesResolver: a DNS failure tells the client what happened to its name, never
// which resolver the server uses.
func TestCheckURLHidesResolver(t *testing.T) {
	t.Parallel()
	for _, notFound := range []bool{true, false} {
		err := webhooks.Guard{Resolver: dnsFailure{notFound}}.CheckURL(context.Background(), "https://gone.example/hook")
		if !errors.Is(err, webhooks.ErrBadURL) || strings.Contains(err.Error(), "10.53.0.2") || !strings.Contains(err.Error(), "gone.example") {
			t.Errorf("notFound=%v: %v", notFound, err)
		}
	}
}
