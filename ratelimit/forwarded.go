package ratelimit

import (
	"net/netip"
	"strings"
)

// hopChain finds the client address in forwarding hops read from left (the
// original client) to right (the nearest proxy). The result is the rightmost
// hop that is not a trusted proxy. A malformed hop stops the search: the
// result is then the trusted hop just right of it, or the peer. When every
// hop is trusted, the result is the leftmost hop.
type hopChain struct {
	trusted []netip.Prefix
	hops    int
	client  netip.Addr // result so far, invalid after a malformed hop
}

// add appends one hop. ok is false for a hop that is not an address.
func (c *hopChain) add(addr netip.Addr, ok bool) {
	c.hops++
	switch {
	case !ok:
		c.client = netip.Addr{}
	case !isTrusted(c.trusted, addr):
		c.client = addr
	case !c.client.IsValid():
		c.client = addr
	}
}

// result returns the client address, or peer when a malformed hop has no
// trusted hop to its right. It reports false when there were no hops.
func (c *hopChain) result(peer netip.Addr) (netip.Addr, bool) {
	if c.hops == 0 {
		return peer, false
	}
	if c.client.IsValid() {
		return c.client, true
	}
	return peer, true
}

// addForwardedFor adds the hops of X-Forwarded-For field lines: addresses
// separated by commas, optionally with a port. Empty elements are skipped,
// as the HTTP list syntax allows.
func (c *hopChain) addForwardedFor(lines []string) {
	for _, line := range lines {
		for rest := line; ; {
			elem, tail, more := strings.Cut(rest, ",")
			elem = trimSpace(elem)
			if elem != "" {
				c.add(parseNode(elem))
			}
			if !more {
				break
			}
			rest = tail
		}
	}
}

// addForwarded adds the "for" hops of Forwarded field lines (RFC 7239). An
// element without a single "for" parameter is a malformed hop. A syntax
// error makes a malformed hop and ends that line, because the rest of the
// line cannot be split into elements reliably.
func (c *hopChain) addForwarded(lines []string) {
	for _, line := range lines {
		p := forwardedParser{s: line}
		for {
			node, found, ok := p.element()
			if !ok {
				c.add(netip.Addr{}, false)
				break
			}
			if found {
				c.add(node.addr, node.ok)
			}
			if p.done() {
				break
			}
		}
	}
}

// parseNode parses a hop: "192.0.2.1", "192.0.2.1:80", "2001:db8::1",
// "[2001:db8::1]" or "[2001:db8::1]:80". It returns the address unmapped and
// without zone.
//
// It picks the parser from the form, because a failed netip parse
// allocates its error.
func parseNode(s string) (netip.Addr, bool) {
	var addr netip.Addr
	var err error
	switch {
	case len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
		addr, err = netip.ParseAddr(s[1 : len(s)-1])
	case s != "" && s[0] == '[':
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		addr = ap.Addr()
	case strings.Count(s, ":") == 1:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s) // IPv4 with a port
		addr = ap.Addr()
	default:
		addr, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}, false
	}
	return normalize(addr), true
}

func normalize(addr netip.Addr) netip.Addr {
	return addr.Unmap().WithZone("")
}

func isTrusted(trusted []netip.Prefix, addr netip.Addr) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// trimSpace removes the optional white space of HTTP (space and tab).
func trimSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// forwardedParser reads the elements of one Forwarded field line:
//
//	Forwarded = element *( OWS "," OWS element )
//	element   = [ pair ] *( ";" [ pair ] )
//	pair      = token "=" ( token / quoted-string )
//
// Quoted strings may not contain a backslash: no address needs one, and
// refusing escapes keeps every accepted address a substring of the field.
type forwardedParser struct {
	s string
	i int
}

func (p *forwardedParser) done() bool {
	return p.i >= len(p.s)
}

// element reads one element and the comma after it. It returns the parsed
// "for" node and found = false for an empty element, and ok = false on a
// syntax error.
func (p *forwardedParser) element() (node forwardedNode, found, ok bool) {
	var forValue string
	forCount, pairs := 0, 0
	for {
		p.skipSpace()
		if p.done() || p.s[p.i] == ',' {
			break
		}
		if p.s[p.i] == ';' {
			p.i++
			continue
		}
		name, value, ok := p.pair()
		if !ok {
			return forwardedNode{}, false, false
		}
		pairs++
		if strings.EqualFold(name, "for") {
			forCount++
			forValue = value
		}
	}
	if !p.done() {
		p.i++ // the comma
	}
	if pairs == 0 {
		return forwardedNode{}, false, true
	}
	if forCount != 1 {
		return forwardedNode{}, true, true
	}
	addr, valid := parseNode(forValue)
	return forwardedNode{addr, valid}, true, true
}

// forwardedNode is a hop from a "for" parameter. ok is false when the value
// is not an address, such as "unknown" or an obfuscated "_name".
type forwardedNode struct {
	addr netip.Addr
	ok   bool
}

func (p *forwardedParser) pair() (name, value string, ok bool) {
	name = p.token()
	if name == "" || p.done() || p.s[p.i] != '=' {
		return "", "", false
	}
	p.i++
	if !p.done() && p.s[p.i] == '"' {
		value, ok = p.quoted()
	} else {
		value = p.token()
		ok = value != ""
	}
	if !ok {
		return "", "", false
	}
	p.skipSpace()
	if !p.done() && p.s[p.i] != ';' && p.s[p.i] != ',' {
		return "", "", false
	}
	return name, value, true
}

func (p *forwardedParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted string without escapes and returns its content.
func (p *forwardedParser) quoted() (string, bool) {
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start:j], true
		case c == '\\' || c < ' ' && c != '\t' || c == 0x7f:
			return "", false
		}
	}
	return "", false
}

func (p *forwardedParser) skipSpace() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// isTokenChar reports whether c is a tchar of RFC 9110.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
