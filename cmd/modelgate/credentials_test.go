package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/internal/s3test"
)

// runMainEnv makes the test binary run modelgate's main instead of the
// tests, so that tests can start the gateway as a process.
const runMainEnv = "MODELGATE_TEST_RUN_MAIN"

// shared is the package's one S3 server, started on first use.
var shared struct {
	once sync.Once
	srv  *s3test.Server
	err  error
}

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		environ := slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return strings.HasPrefix(kv, runMainEnv+"=")
		})
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, environ))
	}
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop S3 server:", err)
		}
	}
	os.Exit(code)
}

// s3Server returns the shared S3 server, seeded with a small model.
func s3Server(tb testing.TB) *s3test.Server {
	tb.Helper()
	shared.once.Do(func() {
		srv, err := s3test.Start(s3test.Options{})
		for _, key := range []string{"acme/tiny/config.json",
			"acme/tiny/weights.bin"} {
			if err == nil {
				err = srv.Put(context.Background(), key, []byte(key))
			}
		}
		shared.srv, shared.err = srv, err
	})
	if shared.err != nil {
		tb.Fatalf("S3 server: %v", shared.err)
	}
	return shared.srv
}

// process is modelgate running as a child process.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer // stdout and stderr
	exited chan struct{}
	err    error // the result of Wait, set before exited closes
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startMain starts modelgate with args and an environment made of env
// alone, so that no credentials or configuration leak in from the test
// process. The process is killed at cleanup.
func startMain(tb testing.TB, env []string, args ...string) *process {
	tb.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{runMainEnv + "=1",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"HOME=" + tb.TempDir()}, env...)
	p := &process{cmd: cmd, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start modelgate: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(tb testing.TB) int {
	tb.Helper()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Minute):
		tb.Fatalf("modelgate did not exit; output:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// gatewayEnv returns the environment of the gateway identity, which may
// only assume the read-only role.
func gatewayEnv(srv *s3test.Server) []string {
	return []string{"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + srv.GatewayAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.GatewaySecretKey}
}

// adminEnv returns the environment of the admin identity, which may
// write.
func adminEnv(srv *s3test.Server) []string {
	return []string{"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=" + srv.AdminAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + srv.AdminSecretKey}
}

// bucketFlags returns the flags that point modelgate at srv.
func bucketFlags(srv *s3test.Server) []string {
	return []string{"--bucket", srv.Bucket, "--region", srv.Region,
		"--s3-endpoint", srv.Endpoint, "--sts-endpoint", srv.Endpoint,
		"--s3-path-style"}
}

// roleFlags adds the read-only role to bucketFlags.
func roleFlags(srv *s3test.Server) []string {
	return append(bucketFlags(srv), "--role-arn", srv.RoleARN,
		"--url-expiry", "30m")
}

// listing returns every key and ETag in the bucket.
func listing(tb testing.TB, srv *s3test.Server) []string {
	tb.Helper()
	var out []string
	p := s3.NewListObjectsV2Paginator(srv.AdminClient(),
		&s3.ListObjectsV2Input{Bucket: aws.String(srv.Bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			tb.Fatalf("list bucket: %v", err)
		}
		for _, o := range page.Contents {
			out = append(out, aws.ToString(o.Key)+" "+aws.ToString(o.ETag))
		}
	}
	sort.Strings(out)
	return out
}

func TestExpiryFlagsRejected(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"zero", []string{"--url-expiry", "0"}, nil,
			[]string{"--url-expiry", "1m to 168h"}},
		{"negative", []string{"--url-expiry", "-5m"}, nil,
			[]string{"--url-expiry", "1m to 168h"}},
		{"below minimum", []string{"--url-expiry", "59s"}, nil,
			[]string{"--url-expiry", "1m to 168h"}},
		{"over seven days", []string{"--url-expiry", "168h1s"}, nil,
			[]string{"--url-expiry", "1m to 168h"}},
		{"not a duration", []string{"--url-expiry", "an hour"}, nil,
			[]string{"--url-expiry", "not a duration", "1m to 168h"}},
		{"longer than the session", []string{"--url-expiry", "2h",
			"--role-arn", "arn:aws:iam::000000000000:role/R",
			"--role-session-duration", "1h"}, nil,
			[]string{"--url-expiry", "--role-session-duration", "1m to"}},
		{"zero from the environment", nil,
			map[string]string{"MODELGATE_URL_EXPIRY": "0"},
			[]string{"MODELGATE_URL_EXPIRY", "--url-expiry", "1m to 168h"}},
		{"not a duration from the environment", nil,
			map[string]string{"MODELGATE_URL_EXPIRY": "soon"},
			[]string{"MODELGATE_URL_EXPIRY", "--url-expiry", "1m to 168h"}},
		{"floor longer than expiry", []string{"--url-expiry", "2m",
			"--url-floor", "3m"}, nil,
			[]string{"--url-floor", "--url-expiry"}},
	}
	for _, tc := range tests {
		for _, cmd := range []string{"serve", "doctor"} {
			t.Run(cmd+"/"+tc.name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				args := append([]string{cmd, "--bucket", "models"}, tc.args...)
				code := run(args, &stdout, &stderr, func(k string) string {
					return tc.env[k]
				}, nil)
				if code != 2 {
					t.Errorf("run(%q) = %d, want 2; stderr:\n%s", args,
						code, stderr.String())
				}
				first, _, _ := strings.Cut(stderr.String(), "\n")
				for _, w := range tc.want {
					if !strings.Contains(first, w) {
						t.Errorf("run(%q) error %q does not contain %q",
							args, first, w)
					}
				}
			})
		}
	}
}

func TestDoctor(t *testing.T) {
	srv := s3Server(t)
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		want     []string // lines that must appear
	}{
		{"read-only role", gatewayEnv(srv), roleFlags(srv), 0,
			[]string{"PASS credentials", "PASS identity", "PASS list",
				"PASS read", "PASS clock", "PASS write", "PASS delete",
				"all checks passed"}},
		{"admin identity", adminEnv(srv), bucketFlags(srv), 1,
			[]string{"FAIL write", "PutObject allowed",
				"FAIL delete", "DeleteObject allowed", "some checks failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := listing(t, srv)
			p := startMain(t, tc.env, append([]string{"doctor"},
				tc.args...)...)
			code := p.wait(t)
			out := p.output()
			if code != tc.wantCode {
				t.Errorf("doctor exit code = %d, want %d; output:\n%s",
					code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("doctor output lacks %q:\n%s", w, out)
				}
			}
			after := listing(t, srv)
			if strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("bucket changed during doctor:\nbefore %q\nafter  %q",
					before, after)
			}
		})
	}
}

// freeAddr returns a loopback address with a port that was free.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// getBody GETs url and returns the status and body, or -1 when the
// request failed.
func getBody(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return -1, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls /readyz of the gateway at addr until cond holds for its
// status and body, and returns the body. It fails when the process
// exits or after a minute.
func waitFor(tb testing.TB, p *process, addr string,
	cond func(status int, body string) bool,
) string {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		status, body := getBody("http://" + addr + "/readyz")
		if cond(status, body) {
			return body
		}
		select {
		case <-p.exited:
			tb.Fatalf("modelgate exited; output:\n%s", p.output())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("/readyz = %d %s; output:\n%s", status, body,
				p.output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ready(status int, _ string) bool { return status == http.StatusOK }

// waitForOutput waits until the output of p contains want, and returns
// the output. The log reaches the output up to --log-flush-interval
// after it is written. It fails after a minute.
func waitForOutput(tb testing.TB, p *process, want string) string {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := p.output()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			tb.Fatalf("output lacks %q after a minute:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeRefusesWritableCredentials(t *testing.T) {
	srv := s3Server(t)
	before := listing(t, srv)
	p := startMain(t, adminEnv(srv), append([]string{"serve",
		"--listen", freeAddr(t)}, bucketFlags(srv)...)...)
	if code := p.wait(t); code != 1 {
		t.Errorf("serve exit code = %d, want 1", code)
	}
	out := p.output()
	for _, w := range []string{"refusing to start", "can write",
		"--allow-write-credentials"} {
		if !strings.Contains(out, w) {
			t.Errorf("serve output lacks %q:\n%s", w, out)
		}
	}
	if after := listing(t, srv); strings.Join(after, "\n") !=
		strings.Join(before, "\n") {
		t.Errorf("bucket changed:\nbefore %q\nafter  %q", before, after)
	}
}

func TestServeWriteCheck(t *testing.T) {
	srv := s3Server(t)
	tests := []struct {
		name      string
		env       []string
		args      []string
		wantGauge string
		wantLog   string
	}{
		{"override", adminEnv(srv), append(bucketFlags(srv),
			"--allow-write-credentials"),
			"modelgate_write_credentials_allowed 1",
			"starting because --allow-write-credentials is set"},
		{"read-only role", gatewayEnv(srv), roleFlags(srv),
			"modelgate_write_credentials_allowed 0", "write check passed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			p := startMain(t, tc.env, append([]string{"serve",
				"--listen", addr}, tc.args...)...)
			waitFor(t, p, addr, ready)
			_, metrics := getBody("http://" + addr + "/metrics")
			if !strings.Contains(metrics, tc.wantGauge) {
				t.Errorf("/metrics lacks %q", tc.wantGauge)
			}
			waitForOutput(t, p, tc.wantLog)
		})
	}
}

// silentListener accepts connections and never responds, like an
// instance metadata endpoint behind a firewall that drops replies.
func silentListener(tb testing.TB) (addr string, accepted func() int) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(conns)
	}
}

func TestServeUnreachableMetadata(t *testing.T) {
	srv := s3Server(t)
	imds, accepted := silentListener(t)
	addr := freeAddr(t)
	// No credentials in the environment: the default chain ends at the
	// instance metadata endpoint, which never responds.
	p := startMain(t, []string{
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://" + imds,
	}, append([]string{"serve", "--listen", addr,
		"--credentials-timeout", "1s", "--write-check-timeout", "2s"},
		bucketFlags(srv)...)...)

	body := waitFor(t, p, addr, func(status int, body string) bool {
		return status == http.StatusServiceUnavailable &&
			strings.Contains(body, "credentials")
	})
	if !strings.Contains(body, "credentials: cannot sign download URLs") {
		t.Errorf("/readyz reason %q lacks the fixed phrase", body)
	}
	if strings.Contains(body, imds) || strings.Contains(body, "http") {
		t.Errorf("/readyz reason %q shows an internal address", body)
	}
	// The log names the deadline.
	waitForOutput(t, p, "deadline exceeded")
	if status, _ := getBody("http://" + addr + "/healthz"); status != 200 {
		t.Errorf("/healthz = %d, want 200", status)
	}
	if accepted() == 0 {
		t.Errorf("the metadata listener saw no connection")
	}
}
