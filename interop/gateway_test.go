package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// bucketRoot is the key prefix the gateway serves models from.
	bucketRoot = "hub/"

	// startTimeout bounds the wait for a gateway to become ready.
	startTimeout = 60 * time.Second

	// stopTimeout is how long a gateway gets to exit after SIGTERM.
	stopTimeout = 20 * time.Second

	// pollInterval is the pause between checks while waiting for a
	// state change.
	pollInterval = 100 * time.Millisecond
)

// seed uploads files, by path, under the model id as the S3 admin.
// Zero-byte files go last, because SeaweedFS stalled a non-empty upload
// sent right after a zero-byte one on the same connection with boto3.
func seed(tb testing.TB, model string, files map[string][]byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var empty []string
	for path, body := range files {
		if len(body) == 0 {
			empty = append(empty, path)
			continue
		}
		put(tb, ctx, model+"/"+path, body)
	}
	for _, path := range empty {
		put(tb, ctx, model+"/"+path, nil)
	}
}

func put(tb testing.TB, ctx context.Context, key string, body []byte) {
	tb.Helper()
	if err := shared.s3.Put(ctx, bucketRoot+key, body); err != nil {
		tb.Fatalf("seed: %v", err)
	}
}

// recordedRequest is what a recordingProxy saw of one request.
type recordedRequest struct {
	Method string
	URL    string // the request URI, path and query
	Header http.Header
}

// recordingProxy is a reverse proxy on loopback that records every
// request before passing it on unchanged, Host header included, so
// that signatures over the host stay valid. It is safe for concurrent
// use.
type recordingProxy struct {
	URL string

	mu       sync.Mutex
	target   *url.URL
	requests []recordedRequest
}

// startRecordingProxy starts a proxy and closes it in tb.Cleanup. It
// responds 502 until forwardTo sets its target, so that the proxy's URL
// can be given to the server behind it before that server starts.
func startRecordingProxy(tb testing.TB) *recordingProxy {
	tb.Helper()
	p := &recordingProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.currentTarget())
			r.Out.Host = r.In.Host
		},
	}
	ts := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if p.currentTarget() == nil {
				http.Error(w, "proxy target not set", http.StatusBadGateway)
				return
			}
			p.record(r)
			rp.ServeHTTP(w, r)
		}))
	tb.Cleanup(ts.Close)
	p.URL = ts.URL
	return p
}

// forwardTo sets the URL the proxy passes requests to.
func (p *recordingProxy) forwardTo(tb testing.TB, target string) {
	tb.Helper()
	to, err := url.Parse(target)
	if err != nil {
		tb.Fatalf("parse proxy target %q: %v", target, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = to
}

func (p *recordingProxy) currentTarget() *url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

func (p *recordingProxy) record(r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, recordedRequest{
		Method: r.Method, URL: r.RequestURI, Header: r.Header.Clone()})
}

// recorded returns the requests seen so far.
func (p *recordingProxy) recorded() []recordedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]recordedRequest(nil), p.requests...)
}

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

// gateway is a running modelgate process.
type gateway struct {
	// URL is the address the gateway listens on.
	URL string

	// Log receives the gateway's standard output and error.
	Log *syncBuffer
}

// gatewayOptions are the settings a test chooses for a gateway.
type gatewayOptions struct {
	// publicURL is the --public-url; empty means the gateway's own URL.
	publicURL string

	// s3Public is the --s3-public-endpoint; empty means S3 itself.
	s3Public string

	// extra are further command-line flags.
	extra []string
}

// startGateway runs the modelgate binary against the shared S3 server
// with the read-only role and stops it in tb.Cleanup. The listen port
// is chosen before the process starts, so a rare collision with another
// process is retried on a new port.
func startGateway(tb testing.TB, opts gatewayOptions) *gateway {
	tb.Helper()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var g *gateway
		if g, err = launchGateway(tb, opts); err == nil {
			return g
		}
		tb.Logf("gateway launch %d failed: %v", attempt+1, err)
	}
	tb.Fatalf("start gateway: %v", err)
	return nil
}

func launchGateway(tb testing.TB, opts gatewayOptions) (*gateway, error) {
	tb.Helper()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	g := &gateway{URL: "http://" + addr, Log: &syncBuffer{}}
	if opts.publicURL == "" {
		opts.publicURL = g.URL
	}
	if opts.s3Public == "" {
		opts.s3Public = shared.s3.Endpoint
	}

	s3 := shared.s3
	args := append([]string{"serve",
		"--listen", addr,
		"--public-url", opts.publicURL,
		"--bucket", s3.Bucket,
		"--root", bucketRoot,
		"--region", s3.Region,
		"--s3-endpoint", s3.Endpoint,
		"--s3-public-endpoint", opts.s3Public,
		"--s3-path-style",
		"--sts-endpoint", s3.Endpoint,
		"--role-arn", s3.RoleARN,
		"--log-format", "json",
		"--log-level", "debug",
		// The tests read the log while the gateway runs.
		"--log-flush-interval", "0",
	}, opts.extra...)
	cmd := exec.Command(shared.gatewayBin, args...)
	cmd.Env = gatewayEnv(tb)
	cmd.Stdout, cmd.Stderr = g.Log, g.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", shared.gatewayBin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()

	if err := waitReady(g.URL, exited); err != nil {
		stopGateway(tb, cmd, exited)
		return nil, fmt.Errorf("%w; gateway output:\n%s", err, g.Log)
	}
	tb.Cleanup(func() {
		stopGateway(tb, cmd, exited)
		if tb.Failed() {
			tb.Logf("gateway output:\n%s", g.Log)
		}
	})
	return g, nil
}

// gatewayEnv returns the gateway's environment: the gateway identity's
// keys and nothing from the user's AWS configuration.
func gatewayEnv(tb testing.TB) []string {
	tb.Helper()
	home := tb.TempDir()
	empty := filepath.Join(home, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + shared.s3.GatewayAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + shared.s3.GatewaySecretKey,
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /readyz until it returns 200, the process exits, or
// startTimeout passes.
func waitReady(base string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("gateway exited before it was ready")
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gateway not ready after %v", startTimeout)
		}
	}
}

// stopGateway sends SIGTERM and waits for the process to exit, killing
// it after stopTimeout.
func stopGateway(tb testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	tb.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
		tb.Errorf("gateway did not stop within %v after SIGTERM; killing it",
			stopTimeout)
		cmd.Process.Kill()
		<-exited
	}
}

// noRedirectClient sends requests without following redirects.
func noRedirectClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// response is a response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send makes one request without following redirects.
func send(tb testing.TB, method, target string) response {
	tb.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	resp, err := noRedirectClient().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s %s: %v", method, target, err)
	}
	return response{status: resp.StatusCode, header: resp.Header,
		body: body}
}
