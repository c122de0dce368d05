package ratelimit

import (
	"net/http"
	"net/netip"
)

func (l *Limiter) addressKey(r *http.Request) Key {
	peer, ok := parsePeer(r.RemoteAddr)
	if !ok {
		return Key{}
	}
	return addrKey(l.clientAddr(peer, r.Header), l.ipv6Bits)
}

// clientAddr returns the client address of a request from peer, following
// the rules in the ClientKey documentation.
func (l *Limiter) clientAddr(peer netip.Addr, h http.Header) netip.Addr {
	if !isTrusted(l.trusted, peer) {
		return peer
	}

	xff := hopChain{trusted: l.trusted}
	xff.addForwardedFor(h["X-Forwarded-For"])
	fromXFF, hasXFF := xff.result(peer)

	fwd := hopChain{trusted: l.trusted}
	fwd.addForwarded(h["Forwarded"])
	fromFwd, hasFwd := fwd.result(peer)

	switch {
	case hasXFF && hasFwd && fromXFF != fromFwd:
		// One of the two may have come from the client unchanged.
		return peer
	case hasXFF:
		return fromXFF
	case hasFwd:
		return fromFwd
	}
	return peer
}

// parsePeer parses r.RemoteAddr, "host:port" or a bare address, and returns
// the address unmapped and without zone.
func parsePeer(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return normalize(ap.Addr()), true
	}
	if addr, err := netip.ParseAddr(remote); err == nil {
		return normalize(addr), true
	}
	return netip.Addr{}, false
}

// normalizeProxies masks each prefix and turns IPv4-mapped IPv6 prefixes of
// at least 96 bits into IPv4 prefixes, because client addresses are
// unmapped before the check.
func normalizeProxies(proxies []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(proxies))
	for _, p := range proxies {
		addr, bits := p.Addr(), p.Bits()
		if addr.Is4In6() && bits >= 96 {
			addr, bits = addr.Unmap(), bits-96
		}
		out = append(out, netip.PrefixFrom(addr, bits).Masked())
	}
	return out
}
