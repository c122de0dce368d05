package e2e

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
)

// fixtureFile returns the fixture at p.
func (s *suite) fixtureFile(tb testing.TB, p string) fixture {
	tb.Helper()
	for _, f := range s.fixtures {
		if f.Path == p {
			return f
		}
	}
	tb.Fatalf("no fixture %q", p)
	return fixture{}
}

// s3Host returns the host:port of the S3 endpoint.
func (s *suite) s3Host(tb testing.TB) string {
	tb.Helper()
	u, err := url.Parse(s.s3.Endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Host
}

// location requests escapedPath from g without following the redirect
// and returns the Location of the 302.
func location(tb testing.TB, g *gateway, escapedPath string,
	header http.Header,
) string {
	tb.Helper()
	req := newRequest(tb, http.MethodGet, g.resolveURL(escapedPath), header)
	resp, body := do(tb, g.noRedirectClient(), req)
	if resp.StatusCode != http.StatusFound {
		tb.Fatalf("GET %s: status %d, want 302; body %q", req.URL,
			resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		tb.Fatalf("GET %s: 302 without Location", req.URL)
	}
	return loc
}

func TestDownloadByteIdentical(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t)
	encodings := []struct {
		name   string
		escape func(string) string
	}{
		{"PathEscape", escapeSegments},
		{"strict", escapeStrict},
	}
	for _, f := range s.fixtures {
		for _, enc := range encodings {
			t.Run(enc.name+"/"+f.Path, func(t *testing.T) {
				checkDownload(t, g, f, enc.escape(f.Path))
			})
		}
	}
}

// checkDownload downloads f through g with a client that follows
// redirects. It checks the bytes, that they came from S3, and the
// filename of S3's Content-Disposition header.
func checkDownload(t *testing.T, g *gateway, f fixture, escaped string) {
	s := suiteFor(t)
	req := newRequest(t, http.MethodGet, g.resolveURL(escaped), nil)
	resp, body := do(t, g.client(), req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200; body %q", req.URL,
			resp.StatusCode, truncate(body))
	}
	if !bytes.Equal(body, f.Body) {
		t.Errorf("GET %s: got %d bytes that differ from the %d uploaded",
			req.URL, len(body), len(f.Body))
	}
	if len(f.Body) == 0 {
		return
	}
	if host := resp.Request.URL.Host; host != s.s3Host(t) {
		t.Errorf("GET %s: final host %q, want the S3 server %q", req.URL,
			host, s.s3Host(t))
	}
	cd := resp.Header.Get("Content-Disposition")
	_, params, err := mime.ParseMediaType(cd)
	if err != nil {
		t.Fatalf("Content-Disposition %q: %v", cd, err)
	}
	if got, want := params["filename"], path.Base(f.Path); got != want {
		t.Errorf("Content-Disposition %q names %q, want %q", cd, got, want)
	}
}

// truncate shortens a body for an error message.
func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

func TestRangedGetOnLocation(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t)
	f := s.fixtureFile(t, bigFile)
	size := len(f.Body)
	loc := location(t, g, escapeSegments(bigFile), nil)

	tests := []struct {
		rng        string
		start, end int // the bytes expected, end exclusive
	}{
		{"bytes=0-0", 0, 1},
		{"bytes=1000-1999", 1000, 2000},
		{"bytes=-10", size - 10, size},
		{fmt.Sprintf("bytes=%d-", size-5), size - 5, size},
		{fmt.Sprintf("bytes=%d-%d", size/2, size+100), size / 2, size},
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			header := http.Header{"Range": {tt.rng}}
			req := newRequest(t, http.MethodGet, loc, header)
			resp, body := do(t, g.client(), req)
			checkPartial(t, resp, body, f.Body, tt.start, tt.end)
		})
	}

	// Clients that resume a download send the Range to the gateway and
	// keep it on the redirect.
	t.Run("through redirect", func(t *testing.T) {
		header := http.Header{"Range": {"bytes=4096-8191"}}
		req := newRequest(t, http.MethodGet,
			g.resolveURL(escapeSegments(bigFile)), header)
		resp, body := do(t, g.client(), req)
		checkPartial(t, resp, body, f.Body, 4096, 8192)
	})
}

// checkPartial checks a 206 response that carries full[start:end].
func checkPartial(tb testing.TB, resp *http.Response, body, full []byte,
	start, end int,
) {
	tb.Helper()
	if resp.StatusCode != http.StatusPartialContent {
		tb.Fatalf("status %d, want 206; body %q", resp.StatusCode,
			truncate(body))
	}
	if !bytes.Equal(body, full[start:end]) {
		tb.Errorf("got %d bytes, want bytes %d to %d of the file",
			len(body), start, end-1)
	}
	want := fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(full))
	if got := resp.Header.Get("Content-Range"); got != want {
		tb.Errorf("Content-Range = %q, want %q", got, want)
	}
}

func TestHeadReportsSize(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t)
	for _, f := range s.fixtures {
		t.Run(f.Path, func(t *testing.T) {
			req := newRequest(t, http.MethodHead,
				g.resolveURL(escapeStrict(f.Path)), nil)
			resp, _ := do(t, g.client(), req)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HEAD %s: status %d, want 200", req.URL,
					resp.StatusCode)
			}
			if resp.ContentLength != int64(len(f.Body)) {
				t.Errorf("HEAD %s: Content-Length %d, want %d", req.URL,
					resp.ContentLength, len(f.Body))
			}
			want := strconv.Itoa(len(f.Body))
			if got := resp.Header.Get("X-Linked-Size"); got != want {
				t.Errorf("HEAD %s: X-Linked-Size %q, want %q", req.URL,
					got, want)
			}
		})
	}
}

func TestLocationSignsHostOnly(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t)
	headers := []struct {
		name   string
		header http.Header
	}{
		{"none", nil},
		{"Range", http.Header{"Range": {"bytes=0-99"}}},
		{"If-None-Match", http.Header{"If-None-Match": {`"abc"`}}},
		{"Authorization", http.Header{
			"Authorization": {"Bearer hf_not_a_real_token"}}},
		{"X-Custom", http.Header{"X-Custom": {"value"}}},
		{"all", http.Header{
			"Range":           {"bytes=10-"},
			"If-None-Match":   {`"abc"`},
			"If-Match":        {`"def"`},
			"Authorization":   {"Bearer hf_not_a_real_token"},
			"X-Custom":        {"value"},
			"Accept-Encoding": {"identity"},
			"User-Agent":      {"huggingface_hub/0.30; python/3.12"},
			"X-Amz-Date":      {"20200101T000000Z"},
		}},
	}
	files := []string{bigFile, "a b+c (1)=50%.bin", "naïve/café ü.txt"}
	for _, h := range headers {
		for _, p := range files {
			t.Run(h.name+"/"+p, func(t *testing.T) {
				loc := location(t, g, escapeSegments(p), h.header)
				checkLocation(t, s, loc, p)
			})
		}
	}
}

// checkLocation checks that loc is a GET URL on the S3 server for the
// object of path p, signed over the host header alone.
func checkLocation(tb testing.TB, s *suite, loc, p string) {
	tb.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		tb.Fatalf("Location %q: %v", loc, err)
	}
	if u.Host != s.s3Host(tb) {
		tb.Errorf("Location host %q, want %q", u.Host, s.s3Host(tb))
	}
	wantPath := "/" + s.s3.Bucket + "/" + modelID + "/" + p
	if u.Path != wantPath {
		tb.Errorf("Location path %q, want %q", u.Path, wantPath)
	}
	q := u.Query()
	if got := q["X-Amz-SignedHeaders"]; len(got) != 1 || got[0] != "host" {
		tb.Errorf("X-Amz-SignedHeaders = %q, want exactly [\"host\"]", got)
	}
	if q.Get("X-Amz-Signature") == "" {
		tb.Errorf("Location %q has no X-Amz-Signature", loc)
	}
}

func TestTamperedLocationForbidden(t *testing.T) {
	s := suiteFor(t)
	g := startGateway(t)
	f := s.fixtureFile(t, "a b+c (1)=50%.bin")
	loc := location(t, g, escapeSegments(f.Path), nil)
	other := location(t, g, "config.json", nil)

	// The untampered URL works, so a 403 below comes from the change.
	resp, body := do(t, g.client(),
		newRequest(t, http.MethodGet, loc, nil))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, f.Body) {
		t.Fatalf("GET Location: status %d, %d bytes; want 200 and the "+
			"%d uploaded bytes", resp.StatusCode, len(body), len(f.Body))
	}

	tests := []struct {
		name   string
		method string
		url    string
	}{
		{"signature changed", http.MethodGet, changeSignature(t, loc)},
		{"HEAD on GET URL", http.MethodHead, loc},
		{"other key", http.MethodGet, swapPath(t, loc, other)},
		{"expiry changed", http.MethodGet,
			replaceParam(t, loc, "X-Amz-Expires", "604800")},
		{"disposition dropped", http.MethodGet,
			replaceParam(t, loc, "response-content-disposition", "")},
		{"session token dropped", http.MethodGet,
			replaceParam(t, loc, "X-Amz-Security-Token", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.url == loc && tt.method == http.MethodGet {
				t.Fatalf("tampered URL equals the original")
			}
			req := newRequest(t, tt.method, tt.url, nil)
			resp, _ := do(t, g.client(), req)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s: status %d, want 403", tt.method, tt.url,
					resp.StatusCode)
			}
		})
	}
}

// changeSignature returns loc with one hex digit of its signature
// changed, leaving every other byte of the URL as it is.
func changeSignature(tb testing.TB, loc string) string {
	tb.Helper()
	const key = "X-Amz-Signature="
	i := strings.Index(loc, key)
	if i < 0 {
		tb.Fatalf("Location %q has no signature", loc)
	}
	pos := i + len(key)
	digit := byte('0')
	if loc[pos] == '0' {
		digit = '1'
	}
	return loc[:pos] + string(digit) + loc[pos+1:]
}

// replaceParam returns loc with the value of the query parameter name
// replaced by value, or with the parameter removed when value is empty.
// Every other byte of the URL stays as it is.
func replaceParam(tb testing.TB, loc, name, value string) string {
	tb.Helper()
	base, query, ok := strings.Cut(loc, "?")
	if !ok {
		tb.Fatalf("Location %q has no query", loc)
	}
	var out []string
	found := false
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k != name {
			out = append(out, kv)
			continue
		}
		found = true
		if value != "" {
			out = append(out, k+"="+url.QueryEscape(value))
		}
	}
	if !found {
		tb.Fatalf("Location %q has no parameter %s", loc, name)
	}
	return base + "?" + strings.Join(out, "&")
}

// swapPath returns loc with the path of other, keeping loc's query and
// thus its signature.
func swapPath(tb testing.TB, loc, other string) string {
	tb.Helper()
	_, query, _ := strings.Cut(loc, "?")
	otherBase, _, _ := strings.Cut(other, "?")
	return otherBase + "?" + query
}
