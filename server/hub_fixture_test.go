package server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// hubRoot is the key prefix under which the fixture bucket keeps its
// models.
const hubRoot = "models/"

// hubModified returns the LastModified of every fixture object.
func hubModified() time.Time {
	return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
}

// hubFiles is the content of the model "acme/tiny", by path. It has a
// zero-byte file, files in nested folders, and a name with spaces and
// non-ASCII characters.
func hubFiles() map[string]string {
	return map[string]string{
		"config.json":                  `{"model_type": "tiny"}`,
		"empty.txt":                    "",
		"weights/model.safetensors":    strings.Repeat("w", 300),
		"weights/shards/part-1.bin":    "part one",
		"tokenizer/vocab.txt":          "a\nb\nc\n",
		"dir with space/naïve é.txt":   "unicode",
		"README.md":                    "# tiny\n",
		"weights/shards/part-2.bin":    "part two",
		"tokenizer/special tokens.txt": "<s>",
	}
}

// hubSignerBase is the fake S3 endpoint in the fixture's signed URLs.
// Nothing listens there; the tests only read the URLs.
const hubSignerBase = "http://127.0.0.1:9/bucket/"

// hubSigner is a fake presigner that records the keys it signs. It is
// safe for concurrent use.
type hubSigner struct {
	mu   sync.Mutex
	keys []string
}

func (s *hubSigner) Presign(_ context.Context, key, filename string) (
	presign.URL, error,
) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	u := hubSignerBase + key + "?X-Amz-Signature=fake&filename=" +
		url.QueryEscape(filename)
	return presign.URL{URL: u, Expires: hubModified().Add(time.Hour)}, nil
}

// signed returns the keys signed so far.
func (s *hubSigner) signed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// hubFixture is a gateway on loopback in front of a fake bucket that
// holds "acme/tiny" and a few smaller models. Tests change the bucket
// with put and delete and then call refresh, as an upload followed by
// the background listing would.
type hubFixture struct {
	list    *listStub
	objects map[string]catalog.Object // by key
	cat     *catalog.Catalog
	signer  *hubSigner
	log     *syncBuffer
	url     string // the test server's base URL
	client  *http.Client
}

// newHubFixture starts a gateway with cfg. Logger is always replaced by
// a JSON logger into the fixture's log buffer.
func newHubFixture(tb testing.TB, cfg server.Config) *hubFixture {
	tb.Helper()
	f := &hubFixture{list: &listStub{},
		objects: make(map[string]catalog.Object), signer: &hubSigner{},
		log: &syncBuffer{}}
	for path, body := range hubFiles() {
		f.put(hubRoot+"acme/tiny/"+path, body)
	}
	for _, id := range []string{"acme/small", "beta/one", "beta/two",
		"gamma/x"} {
		f.put(hubRoot+id+"/config.json", "{}")
	}

	cat, err := catalog.New(f.list, catalog.Config{Bucket: "bucket",
		Root: hubRoot})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	f.cat = cat
	f.refresh(tb)

	cfg.Logger = slog.New(slog.NewJSONHandler(f.log,
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, cat, f.signer)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	f.url = ts.URL
	f.client = &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return f
}

// put stores body under key with an MD5 ETag, as S3 does for a
// single-part upload.
func (f *hubFixture) put(key, body string) {
	f.objects[key] = catalog.Object{Key: key, Size: int64(len(body)),
		ETag: hubETag(body), Modified: hubModified()}
	f.publish()
}

func (f *hubFixture) delete(key string) {
	delete(f.objects, key)
	f.publish()
}

// publish hands the objects, sorted by key as S3 lists them, to the
// listing stub.
func (f *hubFixture) publish() {
	keys := slices.Sorted(maps.Keys(f.objects))
	objects := make([]catalog.Object, len(keys))
	for i, k := range keys {
		objects[i] = f.objects[k]
	}
	f.list.set(objects)
}

// refresh lists the fake bucket again, as the background refresh would.
func (f *hubFixture) refresh(tb testing.TB) {
	tb.Helper()
	if _, err := f.cat.Refresh(context.Background()); err != nil {
		tb.Fatalf("catalog Refresh: %v", err)
	}
}

// hubResponse is a response with its body read.
type hubResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the gateway without following redirects. A
// path starting with "http" is used as a full URL.
func (f *hubFixture) do(tb testing.TB, method, path string,
	body io.Reader, header http.Header,
) hubResponse {
	tb.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = f.url + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := f.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s %s: %v", method, target, err)
	}
	return hubResponse{status: resp.StatusCode, header: resp.Header,
		body: b}
}

func (f *hubFixture) get(tb testing.TB, path string) hubResponse {
	tb.Helper()
	return f.do(tb, http.MethodGet, path, nil, nil)
}

func (f *hubFixture) head(tb testing.TB, path string) hubResponse {
	tb.Helper()
	return f.do(tb, http.MethodHead, path, nil, nil)
}

// hubCommit computes the commit id of a model from its files the way
// the gateway documents it: the SHA-1 of the lines "path\0size\0etag\n"
// sorted by path, as lowercase hex.
func hubCommit(files map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha1.New()
	for _, p := range paths {
		sum := md5.Sum([]byte(files[p]))
		io.WriteString(h, p+"\x00"+strconv.Itoa(len(files[p]))+"\x00"+
			hex.EncodeToString(sum[:])+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hubETag returns the quoted MD5 ETag of body.
func hubETag(body string) string {
	sum := md5.Sum([]byte(body))
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// nextLinkPattern is the Link syntax that the JavaScript client accepts:
// an absolute http(s) URL in angle brackets, a semicolon, whitespace and
// rel="next".
var nextLinkPattern = regexp.MustCompile(`^<(https?://[^>]+)>;\s+rel="next"$`)

// nextLink returns the URL of the next page from a Link header, failing
// the test when the header is present but not in the accepted form.
func nextLink(tb testing.TB, h http.Header) string {
	tb.Helper()
	link := h.Get("Link")
	if link == "" {
		return ""
	}
	m := nextLinkPattern.FindStringSubmatch(link)
	if m == nil {
		tb.Fatalf("Link = %q, want <absolute URL>; rel=\"next\"", link)
	}
	return m[1]
}

// decodeJSON decodes a response body into v.
func decodeJSON(tb testing.TB, r hubResponse, v any) {
	tb.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("decode %s: %v", r.body, err)
	}
}

// wantError checks an error response: its status, its X-Error-Code, and
// a JSON body {"error": "..."} unless the request was HEAD.
func wantError(tb testing.TB, r hubResponse, head bool, status int,
	code string,
) {
	tb.Helper()
	if r.status != status {
		tb.Errorf("status = %d, want %d (body %s)", r.status, status,
			r.body)
	}
	if got := r.header.Get("X-Error-Code"); got != code {
		tb.Errorf("X-Error-Code = %q, want %q", got, code)
	}
	if r.header.Get("X-Error-Message") == "" {
		tb.Errorf("X-Error-Message is empty")
	}
	if head {
		if len(r.body) != 0 {
			tb.Errorf("HEAD body = %q, want empty", r.body)
		}
		return
	}
	var body map[string]any
	decodeJSON(tb, r, &body)
	msg, ok := body["error"].(string)
	if !ok || msg == "" || len(body) != 1 {
		tb.Errorf("body = %s, want {\"error\": \"...\"}", r.body)
	}
}

// wantNoXet checks that a response carries no Xet metadata, which would
// switch the clients to the Xet protocol.
func wantNoXet(tb testing.TB, r hubResponse) {
	tb.Helper()
	for name, values := range r.header {
		if strings.HasPrefix(strings.ToLower(name), "x-xet") {
			tb.Errorf("header %s: %v, want no Xet headers", name, values)
		}
	}
	if link := r.header.Get("Link"); strings.Contains(link, "xet") {
		tb.Errorf("Link = %q, want no Xet relation", link)
	}
	if ct := r.header.Get("Content-Type"); strings.Contains(ct, "xet") {
		tb.Errorf("Content-Type = %q, want no Xet type", ct)
	}
	for _, field := range []string{`"xetHash"`, `"lfs"`,
		`"securityFileStatus"`} {
		if bytes.Contains(r.body, []byte(field)) {
			tb.Errorf("body has %s: %s", field, r.body)
		}
	}
}
