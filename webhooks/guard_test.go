package webhooks_test

import (
	"context"
	"errors"
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
		{"http://169.254.169.254/latest/meta-data/", webhooks.ErrForbiddenAddress, nil, "metadata"},
		{"http://metadata.example/", webhooks.ErrForbiddenAddress, nil, "metadata"},
		{"https://internal.corp/hook", webhooks.ErrForbiddenAddress, nil, "RFC 1918"},
		{"https://mixed.example.com/hook", webhooks.ErrForbiddenAddress, nil, "192.168.0.10"},
		{"http://100.64.1.1/", webhooks.ErrForbiddenAddress, nil, "carrier-grade"},
		{"http://[fd00::1]/", webhooks.ErrForbiddenAddress, nil, "unique local"},
		{"http://0.0.0.0/", webhooks.ErrForbiddenAddress, nil, "unspecified"},
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
