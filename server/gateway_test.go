package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// testModel is the model most tests download from; otherModel exists so
// that a test can check that one model's downloads leave the other's
// series alone.
const (
	testModel  = "acme/tiny"
	otherModel = "acme/other"
)

// testObjects returns the bucket listing of the two models. The gateway
// serves the empty file itself, without a redirect.
func testObjects() []catalog.Object {
	mod := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return []catalog.Object{
		{Key: testModel + "/config.json", Size: 38, ETag: `"c1"`,
			Modified: mod},
		{Key: testModel + "/model.safetensors", Size: 4 << 20,
			ETag: `"w1"`, Modified: mod},
		{Key: testModel + "/empty.txt", Size: 0, ETag: `"e0"`,
			Modified: mod},
		{Key: otherModel + "/config.json", Size: 40, ETag: `"c2"`,
			Modified: mod},
	}
}

// listStub returns its objects as one ListObjectsV2 page. A test may
// replace them between refreshes. It is safe for concurrent
// use.
type listStub struct {
	mu      sync.Mutex
	objects []catalog.Object
}

func (l *listStub) set(objects []catalog.Object) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.objects = objects
}

func (l *listStub) ListObjectsV2(ctx context.Context,
	in *s3.ListObjectsV2Input, opts ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, o := range l.objects {
		out.Contents = append(out.Contents, types.Object{
			Key: aws.String(o.Key), Size: aws.Int64(o.Size),
			ETag: aws.String(o.ETag), LastModified: aws.Time(o.Modified),
		})
	}
	return out, nil
}

// GetObject finds no object: the stub lists no manifests.
func (l *listStub) GetObject(context.Context, *s3.GetObjectInput,
	...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	return nil, &types.NoSuchKey{}
}

// denyLimiter allows every request except those for which deny returns
// true.
type denyLimiter struct {
	deny func(r *http.Request) bool
}

func (l denyLimiter) Allow(h http.Header, r *http.Request, download bool,
) server.LimitDecision {
	ok := l.deny == nil || !l.deny(r)
	return server.LimitDecision{Client: l.ClientKey(r), Allowed: ok,
		RetryAfter: time.Second}
}

func (l denyLimiter) ClientKey(r *http.Request) string {
	return "ip:" + strings.Split(r.RemoteAddr, ":")[0]
}

// deniedHeader marks the requests that the test limiter rejects, so the
// gateway responds with 429.
const deniedHeader = "X-Deny-Request"

// syncBuffer is a bytes.Buffer that is safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testGateway is a gateway served by httptest on 127.0.0.1, with the
// real catalog over a listStub, the real signer with static
// credentials, and a limiter that denies requests with deniedHeader.
type testGateway struct {
	URL     string
	list    *listStub
	cat     *catalog.Catalog
	metrics *server.Metrics
	reg     *prometheus.Registry
	log     *syncBuffer
	client  *http.Client
}

func startGateway(tb testing.TB) *testGateway {
	tb.Helper()
	g := &testGateway{list: &listStub{}, reg: prometheus.NewRegistry(),
		log: &syncBuffer{}}
	g.list.set(testObjects())
	logger := newJSONLogger(g.log)

	var err error
	g.metrics, err = server.NewMetrics(server.MetricsConfig{
		Registry: g.reg, Version: "v0.0.0-test", OnMainListener: true,
		Logger: logger})
	if err != nil {
		tb.Fatalf("NewMetrics: %v", err)
	}
	g.cat, err = catalog.New(g.list, catalog.Config{Bucket: "models",
		OnList: func(err error) {
			g.metrics.S3Request("ListObjectsV2", err)
		},
		OnRefresh: g.metrics.CatalogRefreshed})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	// The access log takes the direct JSON path, as in modelgate serve.
	srv, err := server.New(server.Config{Logger: logger,
		JSONAccessLog: g.log, Metrics: g.metrics,
		Limiter: denyLimiter{deny: func(r *http.Request) bool {
			return r.Header.Get(deniedHeader) != ""
		}},
	}, g.cat, newTestSigner(tb))
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}

	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	g.URL = ts.URL
	g.client = &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if _, err := g.cat.Refresh(context.Background()); err != nil {
		tb.Fatalf("catalog refresh: %v", err)
	}
	return g
}

// newTestSigner returns a real signer with static credentials. It signs
// locally and contacts nothing.
func newTestSigner(tb testing.TB) *presign.Signer {
	tb.Helper()
	creds := credentials.NewStaticCredentialsProvider("AKIDTEST",
		"secret-test-key", "")
	s, err := presign.NewSigner(presign.Config{Bucket: "models",
		Region: "us-east-1", PublicEndpoint: "http://127.0.0.1:9",
		PathStyle: true}, creds)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	return s
}

// do sends a request to the gateway, reads the whole body and returns
// the response. Each header argument is "Name: value".
func (g *testGateway) do(tb testing.TB, method, path string,
	headers ...string,
) *http.Response {
	tb.Helper()
	req, err := http.NewRequest(method, g.URL+path, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, path, err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(name, strings.TrimSpace(value))
	}
	resp, err := g.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp
}

// expect sends a request and fails unless the response has status.
func (g *testGateway) expect(tb testing.TB, status int, method,
	path string, headers ...string,
) *http.Response {
	tb.Helper()
	resp := g.do(tb, method, path, headers...)
	if resp.StatusCode != status {
		tb.Fatalf("%s %s %q = %d, want %d", method, path, headers,
			resp.StatusCode, status)
	}
	return resp
}

// scrape fetches /metrics in the Prometheus text format.
func (g *testGateway) scrape(tb testing.TB) string {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL+"/metrics", nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := g.client.Do(req)
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("scrape = %d, %v", resp.StatusCode, err)
	}
	return string(body)
}

// parseSamples returns the samples of a text-format scrape, keyed by the
// series as written: the name and the labels in braces.
func parseSamples(tb testing.TB, scrape string) map[string]float64 {
	tb.Helper()
	samples := make(map[string]float64)
	sc := bufio.NewScanner(strings.NewReader(scrape))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			tb.Fatalf("scrape line %q has no value", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("scrape line %q: %v", line, err)
		}
		if _, dup := samples[line[:i]]; dup {
			tb.Fatalf("scrape has series %s twice", line[:i])
		}
		samples[line[:i]] = v
	}
	return samples
}

// downloadsSeries returns the series of the downloads counter of model.
func downloadsSeries(model string) string {
	return fmt.Sprintf("modelgate_downloads_total{model=%q}", model)
}
