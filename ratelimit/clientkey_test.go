package ratelimit

import (
	"fmt"
	"testing"
)

// TestForgedHeadersFromUntrustedPeer sends requests whose forwarding
// headers change every time from a peer that is not a trusted proxy.
func TestForgedHeadersFromUntrustedPeer(t *testing.T) {
	tests := []struct {
		name   string
		peer   string // host part of RemoteAddr
		header string
		format string // header value, with %d for the request number
	}{
		{"X-Forwarded-For", "203.0.113.9", "X-Forwarded-For", "198.51.100.%d"},
		{"X-Forwarded-For chain", "203.0.113.9", "X-Forwarded-For",
			"198.51.100.%d, 10.0.0.1"},
		{"X-Real-IP", "203.0.113.9", "X-Real-IP", "198.51.100.%d"},
		{"True-Client-IP", "203.0.113.9", "True-Client-IP", "198.51.100.%d"},
		{"Forwarded", "203.0.113.9", "Forwarded", "for=198.51.100.%d"},
		{"X-Real-IP via trusted proxy", "10.0.0.1", "X-Real-IP",
			"198.51.100.%d"},
		{"True-Client-IP via trusted proxy", "10.0.0.1", "True-Client-IP",
			"198.51.100.%d"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig() // Download burst 3
			cfg.TrustedProxies = mustPrefixes(t, "10.0.0.0/8")
			l, _ := newTestLimiter(t, cfg)

			allowed := 0
			for i := range 20 {
				remote := fmt.Sprintf("%s:%d", tc.peer, 40000+i)
				value := fmt.Sprintf(tc.format, i+1)
				r := newRequest(t, remote, tc.header, value)
				if got := l.ClientKey(r).String(); got != tc.peer {
					t.Fatalf("ClientKey(%s: %s) = %s, want the peer %s",
						tc.header, value, got, tc.peer)
				}
				if l.Allow(r, Download).Allowed {
					allowed++
				}
			}
			if allowed != 3 {
				t.Errorf("allowed %d of 20 requests with forged %s, want 3 "+
					"(one client's burst)", allowed, tc.header)
			}
			if got := l.Tracked(); got != 1 {
				t.Errorf("Tracked() = %d, want 1", got)
			}
		})
	}
}

// TestClientKeyTrustedProxy checks which address behind trusted proxies is
// the key. 10.0.0.0/8 and 2001:db8:ffff::/48 are the trusted proxies.
func TestClientKeyTrustedProxy(t *testing.T) {
	const proxy = "10.0.0.1:443"
	tests := []struct {
		name   string
		remote string
		fields []string // header name and value pairs
		want   string
	}{
		{"no headers", proxy, nil, "10.0.0.1"},
		{"XFF single", proxy,
			[]string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"XFF prepended", proxy,
			[]string{"X-Forwarded-For", "1.2.3.4, 198.51.100.7"},
			"198.51.100.7"},
		{"XFF behind two proxies", proxy,
			[]string{"X-Forwarded-For", "1.2.3.4, 198.51.100.7, 10.0.0.2"},
			"198.51.100.7"},
		{"XFF lines", proxy,
			[]string{
				"X-Forwarded-For", "6.6.6.6, 7.7.7.7",
				"X-Forwarded-For", "198.51.100.7, 10.0.0.2",
			}, "198.51.100.7"},
		{"XFF forged line first", proxy,
			[]string{
				"X-Forwarded-For", "6.6.6.6",
				"X-Forwarded-For", "198.51.100.7",
			}, "198.51.100.7"},
		{"XFF with ports", proxy,
			[]string{"X-Forwarded-For", "[2001:db8:1:2::9]:80, 10.0.0.2:1"},
			"2001:db8:1:2::/64"},
		{"XFF IPv4 with port", proxy,
			[]string{"X-Forwarded-For", "198.51.100.7:5555"}, "198.51.100.7"},
		{"XFF empty elements", proxy,
			[]string{"X-Forwarded-For", " , 198.51.100.7,,"}, "198.51.100.7"},
		{"XFF IPv4-mapped", proxy,
			[]string{"X-Forwarded-For", "::ffff:198.51.100.7"}, "198.51.100.7"},
		{"XFF all trusted", proxy,
			[]string{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"XFF malformed rightmost", proxy,
			[]string{"X-Forwarded-For", "198.51.100.7, garbage"}, "10.0.0.1"},
		{"XFF malformed behind trusted hop", proxy,
			[]string{"X-Forwarded-For", "198.51.100.7, garbage, 10.0.0.2"},
			"10.0.0.2"},
		{"Forwarded single", proxy,
			[]string{"Forwarded", "for=198.51.100.7"}, "198.51.100.7"},
		{"Forwarded prepended", proxy,
			[]string{"Forwarded",
				"for=1.2.3.4, for=198.51.100.7;proto=https;by=10.0.0.1"},
			"198.51.100.7"},
		{"Forwarded quoted IPv6 with port", proxy,
			[]string{"Forwarded", `for="[2001:db8:cafe::17]:4711"`},
			"2001:db8:cafe::/64"},
		{"Forwarded quoted IPv4 with port", proxy,
			[]string{"Forwarded", `For="198.51.100.7:47011"`}, "198.51.100.7"},
		{"Forwarded lines", proxy,
			[]string{
				"Forwarded", "for=1.2.3.4",
				"Forwarded", "for=198.51.100.7, for=10.0.0.2",
			}, "198.51.100.7"},
		{"Forwarded unknown", proxy,
			[]string{"Forwarded", "for=198.51.100.7, for=unknown"},
			"10.0.0.1"},
		{"Forwarded obfuscated behind trusted hop", proxy,
			[]string{"Forwarded", "for=_hidden, for=10.0.0.2"}, "10.0.0.2"},
		{"Forwarded without for", proxy,
			[]string{"Forwarded", "proto=https"}, "10.0.0.1"},
		{"Forwarded two for", proxy,
			[]string{"Forwarded", "for=198.51.100.7;for=1.2.3.4"}, "10.0.0.1"},
		{"Forwarded unterminated quote", proxy,
			[]string{"Forwarded", `for="1.2.3.4, for=198.51.100.7`},
			"10.0.0.1"},
		{"Forwarded escape", proxy,
			[]string{"Forwarded", `for="198.51.100\.7"`}, "10.0.0.1"},
		{"Forwarded bare IPv6", proxy,
			[]string{"Forwarded", `for=2001:db8::1`}, "10.0.0.1"},
		{"Forwarded syntax error line then proxy line", proxy,
			[]string{
				"Forwarded", `for=="x"`,
				"Forwarded", "for=198.51.100.7",
			}, "198.51.100.7"},
		{"both headers agree", proxy,
			[]string{
				"X-Forwarded-For", "198.51.100.7",
				"Forwarded", "for=198.51.100.7",
			}, "198.51.100.7"},
		{"both headers disagree", proxy,
			[]string{
				"X-Forwarded-For", "198.51.100.7",
				"Forwarded", "for=192.0.2.1",
			}, "10.0.0.1"},
		{"X-Real-IP ignored", proxy,
			[]string{"X-Real-IP", "198.51.100.7"}, "10.0.0.1"},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:443",
			[]string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:443",
			[]string{"X-Forwarded-For", "198.51.100.7"}, "198.51.100.7"},
		{"IPv6 peer with zone", "[fe80::1%eth0]:443",
			[]string{"X-Forwarded-For", "198.51.100.7"}, "fe80::/64"},
	}
	cfg := testConfig()
	cfg.TrustedProxies = mustPrefixes(t, "10.0.0.0/8, 2001:db8:ffff::/48")
	l, _ := newTestLimiter(t, cfg)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, tc.remote, tc.fields...)
			if got := l.ClientKey(r).String(); got != tc.want {
				t.Errorf("ClientKey(%q, %q) = %s, want %s",
					tc.remote, tc.fields, got, tc.want)
			}
		})
	}
}

// TestPrependedAddressesShareBudget sends requests through a trusted proxy
// with a different address prepended each time.
func TestPrependedAddressesShareBudget(t *testing.T) {
	tests := []struct {
		name   string
		fields func(i int) []string
	}{
		{"X-Forwarded-For", func(i int) []string {
			return []string{"X-Forwarded-For",
				fmt.Sprintf("198.18.0.%d, 198.51.100.7", i)}
		}},
		{"X-Forwarded-For lines", func(i int) []string {
			return []string{
				"X-Forwarded-For", fmt.Sprintf("198.18.0.%d", i),
				"X-Forwarded-For", "198.51.100.7, 10.0.0.2",
			}
		}},
		{"Forwarded", func(i int) []string {
			return []string{"Forwarded",
				fmt.Sprintf(`for=198.18.0.%d, for="198.51.100.7:%d"`, i, i)}
		}},
		{"Forwarded lines", func(i int) []string {
			return []string{
				"Forwarded", fmt.Sprintf("for=198.18.0.%d", i),
				"Forwarded", "for=198.51.100.7",
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig() // Download burst 3
			cfg.TrustedProxies = mustPrefixes(t, "10.0.0.0/8")
			l, _ := newTestLimiter(t, cfg)

			allowed := 0
			for i := range 20 {
				r := newRequest(t, "10.0.0.1:443", tc.fields(i+1)...)
				if l.Allow(r, Download).Allowed {
					allowed++
				}
			}
			if allowed != 3 {
				t.Errorf("allowed %d of 20 requests, want 3: prepended "+
					"addresses must not create new clients", allowed)
			}
		})
	}
}

// TestIPv6PrefixGrouping checks that addresses are limited by their
// prefix and that IPv4-mapped IPv6 counts as IPv4.
func TestIPv6PrefixGrouping(t *testing.T) {
	tests := []struct {
		name   string
		prefix int
		same   []string // RemoteAddr values that share one budget
		other  string   // a RemoteAddr with its own budget
	}{
		{"default /64", 0, []string{
			"[2001:db8:1:2::1]:1", "[2001:db8:1:2::2]:2",
			"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:3",
			"[2001:db8:1:2:ffff:ffff:ffff:ffff]:4",
		}, "[2001:db8:1:3::1]:1"},
		{"/48", 48, []string{
			"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:2",
			"[2001:db8:1:ffff::1]:3",
		}, "[2001:db8:2::1]:1"},
		{"/128", 128, []string{
			"[2001:db8::1]:1", "[2001:db8::1]:2",
		}, "[2001:db8::2]:1"},
		{"IPv4-mapped", 0, []string{
			"192.0.2.1:1", "[::ffff:192.0.2.1]:2", "192.0.2.1",
			"::ffff:192.0.2.1",
		}, "192.0.2.2:1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Download = Limit{Rate: 1, Burst: len(tc.same)}
			cfg.IPv6Prefix = tc.prefix
			l, _ := newTestLimiter(t, cfg)

			first := l.ClientKey(newRequest(t, tc.same[0]))
			for _, remote := range tc.same {
				r := newRequest(t, remote)
				if got := l.ClientKey(r); got != first {
					t.Errorf("ClientKey(%s) = %v, want %v", remote, got, first)
				}
				if !l.Allow(r, Download).Allowed {
					t.Errorf("Allow(%s) rejected within the shared burst",
						remote)
				}
			}
			for _, remote := range tc.same {
				if l.Allow(newRequest(t, remote), Download).Allowed {
					t.Errorf("Allow(%s) allowed after the shared burst of %d",
						remote, len(tc.same))
				}
			}
			if !l.Allow(newRequest(t, tc.other), Download).Allowed {
				t.Errorf("Allow(%s) rejected, want its own budget", tc.other)
			}
		})
	}
}

func TestClientKeyUnparsablePeer(t *testing.T) {
	l, _ := newTestLimiter(t, testConfig()) // Download burst 3
	for _, remote := range []string{"", "@", "garbage", "1.2.3.4:x"} {
		k := l.ClientKey(newRequest(t, remote))
		if k != (Key{}) || k.String() != "unknown" {
			t.Errorf("ClientKey(%q) = %v (%#v), want the zero Key", remote, k, k)
		}
	}

	allowed := countAllowed(l, newRequest(t, "@"), Download, 2) +
		countAllowed(l, newRequest(t, "garbage"), Download, 2)
	if allowed != 3 {
		t.Errorf("allowed %d of 4 requests from unparsable peers, want 3 "+
			"(one shared burst)", allowed)
	}
	if !l.Allow(newRequest(t, "[::1]:1"), Download).Allowed {
		t.Errorf("Allow([::1]:1) rejected: the loopback /64 must not share " +
			"the unknown peers' bucket")
	}
}
