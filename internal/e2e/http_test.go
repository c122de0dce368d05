package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// requestTimeout bounds each HTTP request that a test makes.
const requestTimeout = 30 * time.Second

// signedParams are the query parameters of a pre-signed URL that act as
// credentials or reveal them. None of them may reach the gateway's log.
var signedParams = []string{
	"X-Amz-Signature", "X-Amz-Security-Token", "X-Amz-Credential",
}

// locationLog records the credential parameters of the pre-signed URLs
// that a gateway handed out. It is safe for concurrent use.
type locationLog struct {
	mu     sync.Mutex
	values map[string]bool
}

func newLocationLog() *locationLog {
	return &locationLog{values: make(map[string]bool)}
}

// add records the credential parameters of the URL in location.
func (l *locationLog) add(location string) {
	u, err := url.Parse(location)
	if err != nil {
		return
	}
	q := u.Query()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range signedParams {
		if v := q.Get(p); v != "" {
			l.values[v] = true
		}
	}
}

// list returns the recorded values.
func (l *locationLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.values))
	for v := range l.values {
		out = append(out, v)
	}
	return out
}

// recordingTransport sends requests straight to their host, never
// through a proxy, and records every Location header it receives.
type recordingTransport struct {
	base      http.RoundTripper
	locations *locationLog
}

func (t recordingTransport) RoundTrip(r *http.Request) (*http.Response,
	error,
) {
	resp, err := t.base.RoundTrip(r)
	if err == nil && t.locations != nil {
		if loc := resp.Header.Get("Location"); loc != "" {
			t.locations.add(loc)
		}
	}
	return resp, err
}

// newClient returns an HTTP client that records Locations in locations,
// when not nil, and follows redirects when follow is true.
func newClient(locations *locationLog, follow bool) *http.Client {
	base := &http.Transport{
		Proxy:             nil,
		DialContext:       (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableKeepAlives: true,
	}
	c := &http.Client{
		Transport: recordingTransport{base: base, locations: locations},
		Timeout:   requestTimeout,
	}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}
	}
	return c
}

// client returns a client for g that follows redirects.
func (g *gateway) client() *http.Client {
	return newClient(g.Locations, true)
}

// noRedirectClient returns a client for g that returns redirects as
// they are.
func (g *gateway) noRedirectClient() *http.Client {
	return newClient(g.Locations, false)
}

// do sends req with client and returns the response with its body read.
func do(tb testing.TB, client *http.Client, req *http.Request) (
	*http.Response, []byte,
) {
	tb.Helper()
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp, readBody(tb, resp, req.Method+" "+req.URL.String())
}

// readBody reads and closes the body of resp, the response to request.
func readBody(tb testing.TB, resp *http.Response, request string) []byte {
	tb.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s: read body: %v", request, err)
	}
	return body
}

// newRequest returns a request or fails tb.
func newRequest(tb testing.TB, method, rawURL string,
	header http.Header,
) *http.Request {
	tb.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s, %q): %v", method, rawURL, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return req
}

// rawRequest sends the request line "method target HTTP/1.1" with the
// given extra header lines to addr over a new connection, byte for byte,
// and returns the response with its body read. It reaches paths that
// net/http's client would normalise or escape.
func rawRequest(tb testing.TB, addr, method, target string,
	headers ...string,
) (*http.Response, []byte) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(requestTimeout))

	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		tb.Fatalf("write request %q: %v", target, err)
	}

	req := &http.Request{Method: method}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		tb.Fatalf("%s %q: read response: %v", method, target, err)
	}
	return resp, readBody(tb, resp, method+" "+strconv.Quote(target))
}

// escapeSegments escapes each segment of a slash-separated path with
// url.PathEscape, which leaves sub-delimiters such as '+' and '='
// unescaped.
func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// escapeStrict percent-encodes every byte of p except the RFC 3986
// unreserved characters and '/', the way Python's urllib.parse.quote
// does by default.
func escapeStrict(p string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			'0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&0x0f])
	}
	return b.String()
}

// resolveURL returns the gateway URL that downloads path of modelID at
// revision main, with path already escaped.
func (g *gateway) resolveURL(escapedPath string) string {
	return g.URL + "/" + modelID + "/resolve/main/" + escapedPath
}

// checkJSONError fails tb unless resp is a JSON error response with
// status want (or any 4xx status when want is 0): Content-Type
// application/json, a body {"error": "..."} with a message, and no
// Location.
func checkJSONError(tb testing.TB, resp *http.Response, body []byte,
	want int,
) {
	tb.Helper()
	if want != 0 && resp.StatusCode != want {
		tb.Errorf("status = %d, want %d; body %q", resp.StatusCode, want,
			body)
	}
	if resp.StatusCode < 400 || resp.StatusCode > 499 {
		tb.Errorf("status = %d, want 4xx; body %q", resp.StatusCode, body)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		tb.Errorf("Location = %q, want none", loc)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	var e struct {
		Error *string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		tb.Errorf("body %q is not a JSON error: %v", body, err)
		return
	}
	if e.Error == nil || *e.Error == "" {
		tb.Errorf("body %q has no error message", body)
	}
}
