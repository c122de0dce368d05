package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate/catalog"
)

// maxKeyBytes is S3's limit on the length of an object key.
const maxKeyBytes = 1024

// decodeSegment decodes one escaped path segment. It rejects an encoded
// slash, backslash or control character, and "." and "..", because no
// listed key can contain them as a segment and letting them through
// would invite path confusion further down.
func decodeSegment(raw string) (string, error) {
	seg, err := url.PathUnescape(raw)
	if err != nil {
		return "", fmt.Errorf("invalid percent-encoding in %q",
			truncate(raw, maxEchoName))
	}
	if !utf8.ValidString(seg) {
		return "", fmt.Errorf("segment %q is not valid UTF-8",
			truncate(raw, maxEchoName))
	}
	if !catalog.ValidSegment(seg) {
		return "", fmt.Errorf("invalid path segment %q",
			truncate(raw, maxEchoName))
	}
	return seg, nil
}

// decodePath decodes an escaped path of one or more segments, segment by
// segment, so that "%2F" can never introduce a new segment.
func decodePath(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("empty file path")
	}
	if !strings.Contains(raw, "%") {
		// Nothing is escaped, so the path is raw itself once each
		// segment is checked. This spares the common case two
		// allocations.
		for part := range strings.SplitSeq(raw, "/") {
			if _, err := decodeSegment(part); err != nil {
				return "", err
			}
		}
		return raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i, part := range strings.Split(raw, "/") {
		seg, err := decodeSegment(part)
		if err != nil {
			return "", err
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg)
	}
	return b.String(), nil
}

// decodeRevision decodes a revision segment. Revisions may hold an
// encoded slash ("refs%2Fpr%2F1"), which is kept, because the catalog
// then reports the revision as unknown with the Hub's error code.
func decodeRevision(raw string) (string, error) {
	rev, err := url.PathUnescape(raw)
	if err != nil || rev == "" || !utf8.ValidString(rev) {
		return "", fmt.Errorf("invalid revision %q",
			truncate(raw, maxEchoName))
	}
	for i := 0; i < len(rev); i++ {
		if rev[i] < 0x20 || rev[i] == 0x7f {
			return "", fmt.Errorf("invalid revision %q",
				truncate(raw, maxEchoName))
		}
	}
	return rev, nil
}

// fileRequest is a decoded request for a file of a model.
type fileRequest struct {
	model string // "org/name"
	rev   string
	path  string
}

// parseFileRequest decodes the org, name, revision and file path of a
// resolve or raw request from its escaped URL parameters.
func parseFileRequest(org, name, rev, path string) (fileRequest, error) {
	var fr fileRequest
	o, err := decodeSegment(org)
	if err != nil {
		return fr, badRequest(err)
	}
	n, err := decodeSegment(name)
	if err != nil {
		return fr, badRequest(err)
	}
	fr.model = o + "/" + n
	if fr.rev, err = decodeRevision(rev); err != nil {
		return fr, badRequest(err)
	}
	if fr.path, err = decodePath(path); err != nil {
		return fr, badRequest(err)
	}
	if err := checkKeyLength(fr.model, fr.path); err != nil {
		return fr, err
	}
	return fr, nil
}

// checkKeyLength returns a 400 error when a key made of model and path
// would exceed S3's key length limit.
func checkKeyLength(model, path string) error {
	if n := len(model) + 1 + len(path); n > maxKeyBytes {
		return badRequest(fmt.Errorf("model name and path are %d bytes "+
			"together, longer than the %d-byte S3 key limit", n,
			maxKeyBytes))
	}
	return nil
}

func badRequest(err error) *Error {
	return &Error{Status: http.StatusBadRequest,
		Code: "BadRequest", Message: err.Error()}
}

// parseQuery parses the query string of r, or returns a 400 error that
// names the problem. URL.Query would drop the pairs it cannot decode, and
// the handler would then silently use their defaults. An empty query
// returns nil values, which read as empty.
func parseQuery(r *http.Request) (url.Values, error) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	return parseValues(r.URL.RawQuery, "query string")
}

// parseValues parses URL-encoded pairs, from the query string or form
// body that source names, or returns a 400 error that names the
// problem. The access log gets only "invalid " + source, because the
// message may quote part of the client's values.
func parseValues(raw, source string) (url.Values, error) {
	v, err := url.ParseQuery(raw)
	if err == nil {
		return v, nil
	}
	msg := "invalid " + source + ": " + err.Error()
	var escErr url.EscapeError
	switch {
	case errors.As(err, &escErr):
		msg += "; percent-encode '%' as %25"
	case strings.Contains(err.Error(), "semicolon"):
		// url.ParseQuery reports a ';' separator with a plain error
		// value, so the check matches its text.
		msg += "; separate pairs with '&', and percent-encode ';' as %3B"
	}
	e := badRequest(errors.New(msg))
	e.LogMessage = "invalid " + source
	return nil, e
}
