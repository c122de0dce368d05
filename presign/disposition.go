package presign

import (
	"strings"
	"unicode/utf8"
)

// ContentDisposition returns a Content-Disposition value (RFC 6266) that
// makes a browser save the response as an attachment called name. The
// caller passes the base name of the file, without directories.
//
// For a non-empty name, the value carries a quoted filename parameter,
// which is an ASCII fallback for old user agents. That fallback replaces
// each non-ASCII character, control character, '"', '\\' and '%' with
// '_'. Quotes and backslashes are replaced rather than escaped, and '%'
// is replaced too, because RFC 6266 appendix D warns that some user
// agents do not implement backslash escapes and that some percent-decode
// the filename parameter. A filename* parameter (RFC 8187) always
// follows it with the exact name in UTF-8, percent-encoded outside the
// attr-char set. User agents that understand filename* prefer it.
//
// Invalid UTF-8 sequences in name are replaced with U+FFFD before
// encoding. An empty name yields the bare "attachment". The result is
// printable ASCII: it never contains CR, LF, NUL or any other control
// character, so it is safe in a header and in a pre-signed URL.
func ContentDisposition(name string) string {
	if name == "" {
		return "attachment"
	}
	if !utf8.ValidString(name) {
		name = strings.ToValidUTF8(name, "\uFFFD")
	}

	var b strings.Builder
	b.Grow(len(`attachment; filename=""; filename*=UTF-8''`) + 4*len(name))
	b.WriteString(`attachment; filename="`)
	writeFilenameFallback(&b, name)
	b.WriteString(`"; filename*=UTF-8''`)
	writeExtValue(&b, name)
	return b.String()
}

// writeFilenameFallback writes the quoted-string content of the ASCII
// fallback for name, one byte per character.
func writeFilenameFallback(b *strings.Builder, name string) {
	for _, r := range name {
		if isFallbackSafe(r) {
			b.WriteByte(byte(r))
			continue
		}
		b.WriteByte('_')
	}
}

// isFallbackSafe reports whether r can appear unchanged in the quoted
// filename fallback.
func isFallbackSafe(r rune) bool {
	if r < 0x20 || r > 0x7e {
		return false
	}
	return r != '"' && r != '\\' && r != '%'
}

// writeExtValue writes name as the value-chars of an RFC 8187 ext-value:
// attr-char bytes as they are, every other byte as %XX in upper-case hex.
func writeExtValue(b *strings.Builder, name string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
}

// isAttrChar reports whether c is in the attr-char set of RFC 8187:
// ALPHA, DIGIT and !#$&+-.^_`|~.
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
