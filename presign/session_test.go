package presign_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/internal/s3test"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// sessionLength is the STS session length of the shared server: short,
// so that the tests see sessions end.
const sessionLength = 6 * time.Second

// testObject is seeded in the shared server.
const (
	testModel  = "acme/tiny"
	testObject = testModel + "/weights.bin"
)

// shared is the package's one S3 server, started on first use.
var shared struct {
	once sync.Once
	srv  *s3test.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop S3 server:", err)
		}
	}
	os.Exit(code)
}

// s3Server returns the shared server, with testObject seeded.
func s3Server(tb testing.TB) *s3test.Server {
	tb.Helper()
	shared.once.Do(func() {
		srv, err := s3test.Start(s3test.Options{TokenDuration: sessionLength})
		if err == nil {
			err = srv.Put(context.Background(), testObject,
				[]byte("0123456789abcdef"))
		}
		shared.srv, shared.err = srv, err
	})
	if shared.err != nil {
		tb.Fatalf("S3 server: %v", shared.err)
	}
	return shared.srv
}

// roleProvider loads credentials the way the gateway does: the gateway
// identity from the environment assumes the read-only role through
// stsEndpoint.
func roleProvider(t *testing.T, srv *s3test.Server, stsEndpoint string,
) (aws.Config, aws.CredentialsProvider) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           srv.GatewayAccessKey,
		"AWS_SECRET_ACCESS_KEY":       srv.GatewaySecretKey,
		"AWS_SESSION_TOKEN":           "",
	} {
		t.Setenv(k, v)
	}
	cfg, provider, err := presign.LoadAWS(context.Background(),
		presign.AWSConfig{Region: srv.Region, Endpoint: srv.Endpoint,
			PathStyle: true, STSEndpoint: stsEndpoint, RoleARN: srv.RoleARN})
	if err != nil {
		t.Fatalf("LoadAWS: %v", err)
	}
	return cfg, provider
}

// sessionLog records the sessions a signer retrieved, by access key.
type sessionLog struct {
	mu      sync.Mutex
	expires map[string]time.Time
	fresh   chan string // receives each new access key, when not full
}

func newSessionLog() *sessionLog {
	return &sessionLog{expires: make(map[string]time.Time),
		fresh: make(chan string, 1)}
}

func (l *sessionLog) record(c aws.Credentials, err error) {
	if err != nil {
		return
	}
	l.mu.Lock()
	l.expires[c.AccessKeyID] = c.Expires
	l.mu.Unlock()
	select {
	case l.fresh <- c.AccessKeyID:
	default:
	}
}

// expiry returns the expiry of the session that signed rawURL.
func (l *sessionLog) expiry(tb testing.TB, rawURL string) time.Time {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatalf("parse URL: %v", err)
	}
	akid, _, _ := strings.Cut(u.Query().Get("X-Amz-Credential"), "/")
	l.mu.Lock()
	defer l.mu.Unlock()
	exp, ok := l.expires[akid]
	if !ok {
		tb.Fatalf("URL signed by unknown access key %q", akid)
	}
	return exp
}

// fetch GETs the first byte of rawURL and returns the status, or -1
// when the request failed. It is safe to call from any goroutine.
func fetch(tb testing.TB, rawURL string) int {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		tb.Errorf("new request: %v", err)
		return -1
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Errorf("GET pre-signed URL: %v", err)
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sleepUntil waits until t.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t))
}

func TestURLsNearSessionEndLastAsAdvertised(t *testing.T) {
	srv := s3Server(t)
	_, provider := roleProvider(t, srv, srv.Endpoint)
	sessions := newSessionLog()
	const margin = time.Second
	signer, err := presign.NewSigner(presign.Config{
		Bucket: srv.Bucket, Region: srv.Region, PublicEndpoint: srv.Endpoint,
		PathStyle: true, Expiry: time.Minute, Margin: margin,
		Floor: time.Second, MinRefreshInterval: time.Hour,
		OnRefresh: sessions.record,
	}, provider)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}

	// Sign every 400 ms across two sessions or more. With refreshes
	// only when a session can no longer sign a 1 s URL, the lifetimes
	// shrink towards the end of each session. Each URL's holder uses it
	// at the last moment it advertises.
	var wg sync.WaitGroup
	ctx := context.Background()
	shortest := time.Hour
	end := time.Now().Add(2 * sessionLength)
	for i := 0; time.Now().Before(end); i++ {
		at := time.Now()
		u, err := signer.Presign(ctx, testObject, "weights.bin")
		if err != nil {
			t.Fatalf("Presign() error = %v", err)
		}
		session := sessions.expiry(t, u.URL)
		if limit := session.Add(-margin); u.Expires.After(limit) {
			t.Errorf("URL %d expires %v, after its session's %v less "+
				"the margin", i, u.Expires, session)
		}
		shortest = min(shortest, u.Expires.Sub(at))
		wg.Go(func() {
			sleepUntil(u.Expires.Add(-300 * time.Millisecond))
			if code := fetch(t, u.URL); code != http.StatusPartialContent {
				t.Errorf("URL %d fetched just before its advertised "+
					"expiry: status %d, want 206", i, code)
			}
		})
		time.Sleep(400 * time.Millisecond)
	}
	wg.Wait()
	if n := len(sessions.expires); n < 2 {
		t.Errorf("sessions used = %d, want at least 2", n)
	}
	if shortest > 2*time.Second {
		t.Errorf("shortest URL lifetime = %v; want one issued near the "+
			"end of a session, at most 2s", shortest)
	}
}

func TestUncappedURLDiesWithSession(t *testing.T) {
	// The control for the test above: a URL that ignores the session's
	// expiry stops working when the session ends.
	srv := s3Server(t)
	_, provider := roleProvider(t, srv, srv.Endpoint)
	creds, err := provider.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	us, err := presign.NewURLSigner(presign.SignerConfig{
		Endpoint: srv.Endpoint, Region: srv.Region, Bucket: srv.Bucket,
		PathStyle: true})
	if err != nil {
		t.Fatalf("NewURLSigner: %v", err)
	}
	u := us.Sign(creds, testObject, "", time.Now(), 15*time.Minute)
	if code := fetch(t, u); code != http.StatusPartialContent {
		t.Fatalf("fresh URL: status %d, want 206", code)
	}
	sleepUntil(creds.Expires.Add(time.Second))
	if code := fetch(t, u); code != http.StatusForbidden {
		t.Errorf("URL after its session expired: status %d, want 403", code)
	}
}

// flakySTS is a reverse proxy in front of STS that can be switched to
// return 503.
type flakySTS struct {
	failing atomic.Bool
	proxy   *httputil.ReverseProxy
}

func (f *flakySTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.failing.Load() {
		http.Error(w, "<ErrorResponse><Error><Code>ServiceUnavailable"+
			"</Code></Error></ErrorResponse>", http.StatusServiceUnavailable)
		return
	}
	f.proxy.ServeHTTP(w, r)
}

func TestSTSOutage(t *testing.T) {
	srv := s3Server(t)
	target, err := url.Parse(srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	sts := &flakySTS{proxy: httputil.NewSingleHostReverseProxy(target)}
	stsProxy := httptest.NewServer(sts)
	t.Cleanup(stsProxy.Close)

	awsCfg, provider := roleProvider(t, srv, stsProxy.URL)
	sessions := newSessionLog()
	const margin = time.Second
	signer, err := presign.NewSigner(presign.Config{
		Bucket: srv.Bucket, Region: srv.Region, PublicEndpoint: srv.Endpoint,
		PathStyle: true, Expiry: time.Minute, Margin: margin,
		Floor: 2 * time.Second, MinRefreshInterval: time.Second,
		RefreshTimeout: 2 * time.Second, RetryMin: 200 * time.Millisecond,
		RetryMax: 500 * time.Millisecond, OnRefresh: sessions.record,
	}, provider)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go signer.Run(ctx)

	gw := startGateway(t, awsCfg, srv, signer)
	waitReady(t, gw, true)

	// STS fails right after a new session arrived.
	drain(sessions.fresh)
	select {
	case <-sessions.fresh:
	case <-time.After(30 * time.Second):
		t.Fatal("no new session within 30 s")
	}
	sts.failing.Store(true)

	capped := 0
	var resp *http.Response
	for {
		resp = get(t, gw.URL+"/"+testModel+"/resolve/main/weights.bin")
		if resp.StatusCode != http.StatusFound {
			break
		}
		capped++
		loc := resp.Header.Get("Location")
		exp, err := time.Parse(time.RFC3339, resp.Header.Get("X-Url-Expires"))
		if err != nil {
			t.Fatalf("X-Url-Expires: %v", err)
		}
		if limit := sessions.expiry(t, loc).Add(-margin); exp.After(limit) {
			t.Errorf("URL during outage expires %v, after its session's "+
				"expiry less the margin, %v", exp, limit)
		}
		if code := fetch(t, loc); code != http.StatusPartialContent {
			t.Errorf("URL during outage: status %d, want 206", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if capped == 0 {
		t.Errorf("no URL was issued during the outage")
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("download after the session ran out: status %d, want 503",
			resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" {
		t.Errorf("503 without Retry-After")
	}
	reason := waitReady(t, gw, false)
	if !strings.Contains(reason, "refreshing them failed") {
		t.Errorf("/readyz reason = %q, want the refresh failure", reason)
	}

	sts.failing.Store(false)
	waitReady(t, gw, true)
	resp = get(t, gw.URL+"/"+testModel+"/resolve/main/weights.bin")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("download after recovery: status %d, want 302",
			resp.StatusCode)
	}
	if code := fetch(t, resp.Header.Get("Location")); code != http.StatusPartialContent {
		t.Errorf("URL after recovery: status %d, want 206", code)
	}
}

// startGateway serves the gateway on loopback with signer, listing the
// bucket with the signer's credentials.
func startGateway(tb testing.TB, awsCfg aws.Config, srv *s3test.Server,
	signer *presign.Signer,
) *httptest.Server {
	tb.Helper()
	s3c := presign.NewS3Client(awsCfg, presign.AWSConfig{
		Region: srv.Region, Endpoint: srv.Endpoint, PathStyle: true}, signer)
	cat, err := catalog.New(s3c, catalog.Config{Bucket: srv.Bucket})
	if err != nil {
		tb.Fatalf("catalog.New: %v", err)
	}
	h, err := server.New(server.Config{Ready: signer.Status}, cat, signer)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	if _, err := cat.Snapshot(context.Background()); err != nil {
		tb.Fatalf("load catalog: %v", err)
	}
	gw := httptest.NewServer(h)
	tb.Cleanup(gw.Close)
	return gw
}

// get sends a GET without following redirects.
func get(tb testing.TB, rawURL string) *http.Response {
	tb.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Get(rawURL)
	if err != nil {
		tb.Fatalf("GET %s: %v", rawURL, err)
	}
	resp.Body.Close()
	return resp
}

// waitReady polls /readyz until it reports ready (or not ready), and
// returns the last body. It fails the test after 30 seconds.
func waitReady(tb testing.TB, gw *httptest.Server, ready bool) string {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(gw.URL + "/readyz")
		if err != nil {
			tb.Fatalf("GET /readyz: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			tb.Fatalf("read /readyz: %v", err)
		}
		if (resp.StatusCode == http.StatusOK) == ready {
			return string(body)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("/readyz = %d %s, want ready=%v", resp.StatusCode,
				body, ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// drain empties ch.
func drain(ch chan string) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
