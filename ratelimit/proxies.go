package ratelimit

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes and
// addresses, such as "10.0.0.0/8, 192.0.2.7, 2001:db8::/32", for
// Config.TrustedProxies. An address stands for itself (/32 or /128). Empty
// entries are skipped, so "" returns nil. The error names the entry and its
// position. A prefix with bits set after its length, such as 10.0.0.1/8, is
// an error that suggests the masked form, because it is a common typo.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, field := range strings.Split(s, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		p, err := parseProxy(field)
		if err != nil {
			return nil, fmt.Errorf("invalid trusted proxy %q (entry %d): %w",
				field, i+1, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("want a CIDR prefix such as "+
				"10.0.0.0/8: %w", err)
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("bits are set after the "+
				"prefix length; write %s", p.Masked())
		}
		return p, nil
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("want an address such as "+
			"192.0.2.7 or a CIDR prefix: %w", err)
	}
	if addr.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("an IPv6 zone is not allowed; "+
			"write %s", addr.WithZone(""))
	}
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}
