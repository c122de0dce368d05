package ratelimit

import (
	"encoding/hex"
	"log/slog"
	"net/netip"
)

type keyKind uint8

const (
	keyUnknown keyKind = iota // the peer address could not be parsed
	keyAddr                   // a client address or IPv6 prefix
	keyToken                  // a known bearer token
)

// Key identifies the client whose buckets a request draws from: two
// requests with equal keys share buckets. The zero Key is the key of a
// request whose peer address cannot be parsed, and all such requests share
// one pair of buckets.
//
// Key never contains a bearer token. For a token client it contains the tier
// name and the first 8 hex digits of the token's SHA-256.
type Key struct {
	prefix netip.Prefix // the address for IPv4, the masked prefix for IPv6
	tier   string
	hash   [maxTokenPrefix / 2]byte
	kind   keyKind
}

func addrKey(addr netip.Addr, ipv6Bits int) Key {
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = ipv6Bits
	}
	// Prefix fails only for bits outside the address length, which
	// Config.Validate rules out for ipv6Bits.
	prefix, _ := addr.Prefix(bits)
	return Key{prefix: prefix, kind: keyAddr}
}

func tokenKey(sum *[32]byte, tier string) Key {
	k := Key{tier: tier, kind: keyToken}
	copy(k.hash[:], sum[:])
	return k
}

// Prefix returns the masked client address that the key limits: a /32 for
// IPv4, the configured prefix for IPv6. It returns the zero Prefix for a
// token key and for the unknown peer.
func (k Key) Prefix() netip.Prefix {
	return k.prefix
}

// Tier returns the tier name of a token key, or "" for an address key.
func (k Key) Tier() string {
	return k.tier
}

// String returns a form safe to log: "192.0.2.7", "2001:db8:1:2::/64",
// "token:gold:1a2b3c4d" or "unknown".
func (k Key) String() string {
	switch k.kind {
	case keyAddr:
		if k.prefix.Addr().Is4() {
			return k.prefix.Addr().String()
		}
		return k.prefix.String()
	case keyToken:
		return "token:" + k.tier + ":" + hex.EncodeToString(k.hash[:])
	}
	return "unknown"
}

// LogValue implements [slog.LogValuer] with the same text as String, so that
// a logged Key shows no raw address bits beyond the prefix.
func (k Key) LogValue() slog.Value {
	return slog.StringValue(k.String())
}

// storeKey returns the 16-byte map key of an address key. IPv4 addresses
// take the IPv4-mapped form, which no masked IPv6 client can have because
// mapped IPv6 addresses are unmapped first. The unknown peer takes the mapped
// form of 0.0.0.0, which no TCP peer has.
func (k Key) storeKey() [16]byte {
	if k.kind == keyUnknown {
		return netip.IPv4Unspecified().As16()
	}
	return k.prefix.Addr().As16()
}

func shortHash(sum [32]byte) string {
	return hex.EncodeToString(sum[:maxTokenPrefix/2])
}
