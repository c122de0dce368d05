package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// pageModTime is the LastModified of every object in the page tests.
var pageModTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

// pageObject is an object of the fake bucket.
type pageObject struct {
	key  string
	size int64
}

// pageLister is a catalog.API that returns its objects in one page.
type pageLister struct {
	objects []types.Object
}

func newPageLister(objs []pageObject) *pageLister {
	l := &pageLister{}
	for i, o := range objs {
		l.objects = append(l.objects, types.Object{
			Key:          aws.String(o.key),
			Size:         aws.Int64(o.size),
			ETag:         aws.String(fmt.Sprintf(`"%032x"`, i+1)),
			LastModified: aws.Time(pageModTime),
		})
	}
	return l
}

func (l *pageLister) ListObjectsV2(ctx context.Context,
	in *s3.ListObjectsV2Input, opts ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	return &s3.ListObjectsV2Output{Contents: l.objects,
		IsTruncated: aws.Bool(false)}, nil
}

// GetObject finds no object: the lister has no manifests.
func (l *pageLister) GetObject(context.Context, *s3.GetObjectInput,
	...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	return nil, &types.NoSuchKey{}
}

// stubPresigner signs nothing: it returns a URL that names the key and
// the file name, so tests can check what was asked for.
type stubPresigner struct{}

func (stubPresigner) Presign(ctx context.Context, key, filename string) (
	presign.URL, error,
) {
	u := "https://s3.invalid/models/" + key + "?filename=" +
		url.QueryEscape(filename)
	return presign.URL{URL: u, Expires: pageModTime.Add(time.Hour)}, nil
}

// recordingLimiter is a Limiter that records each Allow call and denies
// requests while deny is set.
type recordingLimiter struct {
	mu        sync.Mutex
	downloads []bool
	deny      bool
}

func (l *recordingLimiter) Allow(h http.Header, r *http.Request,
	download bool,
) server.LimitDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.downloads = append(l.downloads, download)
	if l.deny {
		return server.LimitDecision{Client: "test",
			RetryAfter: 1500 * time.Millisecond}
	}
	return server.LimitDecision{Client: "test", Allowed: true}
}

func (l *recordingLimiter) ClientKey(r *http.Request) string {
	return "test"
}

// calls returns the download flag of each Allow call so far.
func (l *recordingLimiter) calls() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.downloads...)
}

// newPageCatalog returns a loaded catalog of objs.
func newPageCatalog(tb testing.TB, objs []pageObject) *catalog.Catalog {
	tb.Helper()
	cat, err := catalog.New(newPageLister(objs),
		catalog.Config{Bucket: "models"})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	if _, err := cat.Snapshot(context.Background()); err != nil {
		tb.Fatalf("load catalog: %v", err)
	}
	return cat
}

// newPageServer returns a gateway over a fake bucket of objs.
func newPageServer(tb testing.TB, cfg server.Config,
	objs []pageObject,
) *server.Server {
	tb.Helper()
	srv, err := server.New(cfg, newPageCatalog(tb, objs), stubPresigner{})
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	return srv
}

// pageResponse is a recorded response with its body read.
type pageResponse struct {
	status int
	header http.Header
	body   string
}

// requestPage sends a request to srv and returns the response. Headers
// are given as name, value pairs, and a pair with an empty value is
// left out.
func requestPage(tb testing.TB, srv http.Handler, method, target string,
	headers ...string,
) pageResponse {
	tb.Helper()
	req := httptest.NewRequest(method, target, nil)
	req.Host = "gateway.test"
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] != "" {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return pageResponse{status: rec.Code, header: rec.Header(),
		body: string(body)}
}

// browserAccept is the Accept header Chromium sends when it navigates.
const browserAccept = "text/html,application/xhtml+xml,application/xml;" +
	"q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8," +
	"application/signed-exchange;v=b3;q=0.7"

// checkHeaders checks that h has each header of wants with its value.
// The request names the request in messages.
func checkHeaders(tb testing.TB, request string, h http.Header,
	wants map[string]string,
) {
	tb.Helper()
	for name, want := range wants {
		if got := h.Get(name); got != want {
			tb.Errorf("%s: %s %q, want %q", request, name, got, want)
		}
	}
}

// tableRows counts the body rows of the first table in an HTML page.
func tableRows(body string) int {
	_, tbody, ok := strings.Cut(body, "<tbody>")
	if !ok {
		return 0
	}
	tbody, _, _ = strings.Cut(tbody, "</tbody>")
	return strings.Count(tbody, "<tr>")
}
