package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
)

// testModel is the model that the in-package fixture serves.
const testModel = "acme/tiny"

// testSignBase starts every URL that stubSigner returns. Port 9 on
// loopback is the discard port, so nothing ever fetches these URLs.
const testSignBase = "http://127.0.0.1:9/models/"

// testFiles returns the paths of testModel's files, with their sizes.
func testFiles() map[string]int64 {
	return map[string]int64{
		"config.json":              21,
		"empty.txt":                0,
		"sub/dir/weights.bin":      4096,
		"naïve café (v1).txt":      7,
		"．．/fullwidth-dots.txt":    3,
		"a b+c=50%.bin":            9,
		"tokenizer/vocab.txt":      12,
		"tokenizer/merges.txt":     13,
		"deep/er/and/deeper/x.bin": 1,
	}
}

// staticBucket is an S3 fake that lists keys in one page.
type staticBucket struct {
	keys  []string
	sizes map[string]int64
}

// newStaticBucket returns a bucket that holds testFiles under
// testModel, and one object outside any model.
func newStaticBucket() *staticBucket {
	b := &staticBucket{sizes: make(map[string]int64)}
	for p, size := range testFiles() {
		key := testModel + "/" + p
		b.keys = append(b.keys, key)
		b.sizes[key] = size
	}
	b.keys = append(b.keys, "README.md")
	return b
}

func (b *staticBucket) ListObjectsV2(_ context.Context,
	_ *s3.ListObjectsV2Input, _ ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, k := range b.keys {
		out.Contents = append(out.Contents, types.Object{
			Key:          aws.String(k),
			Size:         aws.Int64(b.sizes[k]),
			ETag:         aws.String(`"0123456789abcdef0123456789abcdef"`),
			LastModified: aws.Time(time.Unix(1700000000, 0)),
		})
	}
	return out, nil
}

// GetObject returns NoSuchKey, as S3 does for a missing key, because
// the bucket holds no manifest.
func (b *staticBucket) GetObject(context.Context, *s3.GetObjectInput,
	...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	return nil, &types.NoSuchKey{}
}

// stubSigner returns unsigned URLs under testSignBase.
type stubSigner struct{}

func (stubSigner) Presign(_ context.Context, key, _ string) (
	presign.URL, error,
) {
	return presign.URL{URL: testSignBase + key,
		Expires: time.Unix(1700003600, 0)}, nil
}

// newFixtureCatalog returns a catalog of newStaticBucket, loaded.
func newFixtureCatalog(tb testing.TB) *catalog.Catalog {
	tb.Helper()
	cat, err := catalog.New(newStaticBucket(), catalog.Config{
		Bucket: "models"})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	if _, err := cat.Refresh(context.Background()); err != nil {
		tb.Fatalf("Refresh: %v", err)
	}
	return cat
}

// newFixtureServer returns a server over newFixtureCatalog and a
// stubSigner.
func newFixtureServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	srv, err := New(cfg, newFixtureCatalog(tb), stubSigner{})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return srv
}

// serve sends req to srv in-process and returns the recorded response.
func serve(srv http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// isJSONError reports whether the content type and body are those of
// writeError.
func isJSONError(contentType, body string) bool {
	return contentType == "application/json" &&
		strings.HasPrefix(body, `{"error":`)
}
