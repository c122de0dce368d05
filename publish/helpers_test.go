package publish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/internal/s3test"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/publish"
	"github.com/modelgate/modelgate/server"
)

// testS3 is the S3 server that every test of the package shares; each
// test publishes its own model.
var testS3 *s3test.Server

func TestMain(m *testing.M) {
	// No client in these tests may ask for instance metadata.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s, err := s3test.Start(s3test.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testS3 = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// adminClient returns a client with the admin identity, which may
// write: the publisher's credentials in these tests.
func adminClient() *s3.Client {
	return testS3.Client(credentials.NewStaticCredentialsProvider(
		testS3.AdminAccessKey, testS3.AdminSecretKey, ""))
}

// testConfig returns a publish configuration with the smallest parts
// S3 allows, so that a 12 MiB file goes up in three parts.
func testConfig(model, dir string) publish.Config {
	return publish.Config{
		Bucket:      testS3.Bucket,
		Model:       model,
		Dir:         dir,
		PartSize:    publish.MinPartSize,
		Threshold:   publish.MinPartSize,
		Concurrency: 3,
	}
}

// writeFiles writes files, by slash-separated path, below dir.
func writeFiles(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	for p, body := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func mustPublish(tb testing.TB, api publish.S3,
	cfg publish.Config,
) *publish.Result {
	tb.Helper()
	res, err := publish.Publish(testContext(tb), api, cfg)
	if err != nil {
		tb.Fatalf("Publish(%s): %v", cfg.Model, err)
	}
	return res
}

// actions returns the planned action of each path in res.
func actions(res *publish.Result) map[string]publish.Action {
	out := make(map[string]publish.Action)
	for _, c := range res.Changes {
		out[c.Path] = c.Action
	}
	return out
}

// bucketListing returns every key of the bucket with its size and ETag.
func bucketListing(tb testing.TB) map[string]string {
	tb.Helper()
	out := make(map[string]string)
	pages := s3.NewListObjectsV2Paginator(testS3.AdminClient(),
		&s3.ListObjectsV2Input{Bucket: aws.String(testS3.Bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(testContext(tb))
		if err != nil {
			tb.Fatalf("ListObjectsV2: %v", err)
		}
		for _, o := range page.Contents {
			out[aws.ToString(o.Key)] = fmt.Sprintf("%d %s",
				aws.ToInt64(o.Size), aws.ToString(o.ETag))
		}
	}
	return out
}

// getObject returns the content of key, read as the admin.
func getObject(tb testing.TB, key string) []byte {
	tb.Helper()
	out, err := testS3.AdminClient().GetObject(testContext(tb),
		&s3.GetObjectInput{Bucket: aws.String(testS3.Bucket),
			Key: aws.String(key)})
	if err != nil {
		tb.Fatalf("GetObject(%s): %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", key, err)
	}
	return body
}

// gateway is an in-process gateway over the test bucket. Its catalog
// and its signer use the read-only role.
type gateway struct {
	cat *catalog.Catalog
	url string
}

func newGateway(tb testing.TB) *gateway {
	tb.Helper()
	signer, err := presign.NewSigner(presign.Config{
		Bucket: testS3.Bucket, Region: testS3.Region,
		PublicEndpoint: testS3.Endpoint, PathStyle: true,
	}, testS3.RoleProvider())
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	cat, err := catalog.New(testS3.Client(signer),
		catalog.Config{Bucket: testS3.Bucket})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	srv, err := server.New(server.Config{}, cat, signer)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	return &gateway{cat: cat, url: hs.URL}
}

// refresh lists the bucket again and returns the new snapshot.
func (g *gateway) refresh(tb testing.TB) *catalog.Snapshot {
	tb.Helper()
	s, err := g.cat.Refresh(testContext(tb))
	if err != nil {
		tb.Fatalf("catalog Refresh: %v", err)
	}
	return s
}

// treeEntry is a file or directory of a tree listing.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID         string `json:"oid"`
		Size        int64  `json:"size"`
		PointerSize int    `json:"pointerSize"`
	} `json:"lfs"`
}

// tree returns the recursive tree of model, files only, by path.
func (g *gateway) tree(tb testing.TB, model string) map[string]treeEntry {
	tb.Helper()
	resp, err := http.Get(g.url + "/api/models/" + model +
		"/tree/main?recursive=true")
	if err != nil {
		tb.Fatalf("GET tree: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET tree: status %d", resp.StatusCode)
	}
	return decodeEntries(tb, resp.Body)
}

// pathsInfo returns the paths-info entries of paths, files only.
func (g *gateway) pathsInfo(tb testing.TB, model string,
	paths []string,
) map[string]treeEntry {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"paths": paths})
	resp, err := http.Post(g.url+"/api/models/"+model+
		"/paths-info/main", "application/json", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("POST paths-info: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("POST paths-info: status %d", resp.StatusCode)
	}
	return decodeEntries(tb, resp.Body)
}

func decodeEntries(tb testing.TB, r io.Reader) map[string]treeEntry {
	tb.Helper()
	var entries []treeEntry
	if err := json.NewDecoder(r).Decode(&entries); err != nil {
		tb.Fatalf("decode entries: %v", err)
	}
	out := make(map[string]treeEntry)
	for _, e := range entries {
		if e.Type == "file" {
			out[e.Path] = e
		}
	}
	return out
}

// download fetches a file through the gateway as a client would: GET
// resolve, then the pre-signed URL it redirects to. It returns the
// content and the Repr-Digest of the gateway's response.
func (g *gateway) download(tb testing.TB, model, path string) (
	[]byte, string,
) {
	tb.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request,
		[]*http.Request,
	) error {
		return http.ErrUseLastResponse
	}}
	resp, err := noRedirect.Get(g.url + "/" + model + "/resolve/main/" +
		escapePath(path))
	if err != nil {
		tb.Fatalf("GET resolve %s: %v", path, err)
	}
	defer resp.Body.Close()
	digest := resp.Header.Get("Repr-Digest")
	switch resp.StatusCode {
	case http.StatusOK: // a zero-byte file, served inline
		body, _ := io.ReadAll(resp.Body)
		return body, digest
	case http.StatusFound:
	default:
		tb.Fatalf("GET resolve %s: status %d", path, resp.StatusCode)
	}

	s3resp, err := http.Get(resp.Header.Get("Location"))
	if err != nil {
		tb.Fatalf("GET pre-signed URL of %s: %v", path, err)
	}
	defer s3resp.Body.Close()
	if s3resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET pre-signed URL of %s: status %d", path,
			s3resp.StatusCode)
	}
	body, err := io.ReadAll(s3resp.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return body, digest
}

// head returns the Repr-Digest of a HEAD on resolve.
func (g *gateway) head(tb testing.TB, model, path string) string {
	tb.Helper()
	resp, err := http.Head(g.url + "/" + model + "/resolve/main/" +
		escapePath(path))
	if err != nil {
		tb.Fatalf("HEAD resolve %s: %v", path, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("HEAD resolve %s: status %d", path, resp.StatusCode)
	}
	return resp.Header.Get("Repr-Digest")
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// reprDigest returns the Repr-Digest value for content.
func reprDigest(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}
