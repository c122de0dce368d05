package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientKey checks that ClientKey never panics and that the key is
// always the peer or an address written somewhere in the forwarding
// headers. Newlines in xff and forwarded separate header field lines. The
// seed corpus is in testdata/fuzz/FuzzClientKey.
func FuzzClientKey(f *testing.F) {
	cfg := testConfig()
	cfg.TrustedProxies = mustPrefixes(f,
		"10.0.0.0/8, 2001:db8:ffff::/48, 127.0.0.1")
	l, _ := newTestLimiter(f, cfg)

	f.Fuzz(func(t *testing.T, remote, xff, forwarded string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		}
		if forwarded != "" {
			r.Header["Forwarded"] = strings.Split(forwarded, "\n")
		}
		key := l.ClientKey(r)
		_ = l.Allow(r, API)

		peer, ok := parsePeer(remote)
		if !ok {
			if key != (Key{}) {
				t.Fatalf("ClientKey(%q) = %v, want the zero Key for an "+
					"unparsable peer", remote, key)
			}
			return
		}
		peerKey := addrKey(peer, l.ipv6Bits)
		if !isTrusted(l.trusted, peer) && key != peerKey {
			t.Fatalf("ClientKey(%q, %q, %q) = %v, want the untrusted peer %v",
				remote, xff, forwarded, key, peerKey)
		}
		if key == peerKey {
			return
		}
		for _, addr := range addressesIn(xff + "\n" + forwarded) {
			if key == addrKey(addr, l.ipv6Bits) {
				return
			}
		}
		t.Fatalf("ClientKey(%q, %q, %q) = %v, which is neither the peer "+
			"nor an address in the headers", remote, xff, forwarded, key)
	})
}

// addressesIn returns every address that some substring of s parses as.
// It is slow but independent of the header parsers under test.
func addressesIn(s string) []netip.Addr {
	const maxLen = 64 // longer than any address text with a short zone
	var out []netip.Addr
	for i := range len(s) {
		for j := i + 1; j <= min(len(s), i+maxLen); j++ {
			if addr, err := netip.ParseAddr(s[i:j]); err == nil {
				out = append(out, addr.Unmap().WithZone(""))
			}
		}
	}
	return out
}
