package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	defaultBucket        = "models"
	defaultTokenDuration = time.Hour
	region               = "us-east-1"
	// startAttempts is how many times Start launches the server when it
	// exits before it is ready, for example because a port was taken.
	startAttempts = 3
	// readyTimeout bounds the wait for one launch to become ready. This
	// package's tests measured about 4 s on a 2-core machine.
	readyTimeout = 60 * time.Second
	// pollInterval is the pause between readiness checks.
	pollInterval = 100 * time.Millisecond
	// checkTimeout bounds a single readiness request.
	checkTimeout = 5 * time.Second
	// stopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	stopTimeout = 15 * time.Second
	// outputTailBytes is how much server output an error or log shows.
	outputTailBytes = 4096
)

// errExited reports that the server process exited while starting.
var errExited = errors.New("server process exited")

// Options configures Start and New. The zero value is ready to use.
type Options struct {
	// Bucket is the bucket to create. The empty string means "models".
	Bucket string
	// TokenDuration is the longest STS session the server grants, and the
	// session length when an AssumeRole request has no DurationSeconds.
	// Zero means 1 hour. The AWS SDK's stscreds provider always requests
	// at least 15 minutes, so its sessions last min(15m, TokenDuration).
	// Set a few seconds to test session expiry.
	TokenDuration time.Duration
	// Logf, if set, receives start, retry and stop messages. The server's
	// own output goes to files under Server.Dir.
	Logf func(format string, args ...any)
}

// Server is a running SeaweedFS S3 server on 127.0.0.1. Its exported fields
// are set by Start and must not be changed. The methods are safe for
// concurrent use.
type Server struct {
	// Endpoint is the S3 and STS endpoint, "http://127.0.0.1:PORT".
	Endpoint string
	// Region is the signing region, "us-east-1".
	Region string
	// Bucket is the bucket that Start created.
	Bucket string
	// AdminAccessKey and AdminSecretKey are the credentials of an identity
	// allowed every S3 action, for seeding test data.
	AdminAccessKey, AdminSecretKey string
	// GatewayAccessKey and GatewaySecretKey are the credentials of an
	// identity allowed no S3 action, which may assume RoleARN.
	GatewayAccessKey, GatewaySecretKey string
	// RoleARN is the read-only role: s3:GetObject and s3:ListBucket on
	// Bucket and its objects.
	RoleARN string
	// Dir is the server's state directory: data, logs, configuration and
	// the process output in weed.log. Stop removes it.
	Dir string

	logf     func(format string, args ...any)
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the process has exited
	waitErr  error         // the result of cmd.Wait, set before exited closes
	admin    *s3.Client
	stopOnce sync.Once
	stopErr  error
}

// Start launches a server on free ports and returns once it serves S3 and
// STS requests and the bucket exists. It builds the binary first if needed
// (see Binary). If the process exits while starting, for example because
// another process took one of its ports, Start tries again on new ports, up
// to three launches. The caller must call Stop.
func Start(opts Options) (*Server, error) {
	opts = withDefaults(opts)
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 1; attempt <= startAttempts; attempt++ {
		s, err := launch(bin, opts)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errExited) || attempt == startAttempts {
			break
		}
		opts.Logf("s3test: launch %d of %d failed, trying new ports: %v",
			attempt, startAttempts, err)
	}
	return nil, fmt.Errorf("start S3 server: %w", lastErr)
}

// New starts a server for one test or benchmark and stops it in tb.Cleanup.
// It calls tb.Fatal if the server does not start. When opts.Logf is nil,
// messages go to tb.Logf. If the test failed, the cleanup logs the end of
// the server's output before removing Dir.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	s, err := Start(opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("S3 server output (end):\n%s", s.outputTail())
		}
		if err := s.Stop(); err != nil {
			tb.Errorf("stop S3 server: %v", err)
		}
	})
	return s
}

func withDefaults(opts Options) Options {
	if opts.Bucket == "" {
		opts.Bucket = defaultBucket
	}
	if opts.TokenDuration <= 0 {
		opts.TokenDuration = defaultTokenDuration
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return opts
}

// launch starts one server process and waits until it is ready. On failure
// it stops the process and removes its directory.
func launch(bin string, opts Options) (*Server, error) {
	p, err := freePorts()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	s := newServer(opts, dir, p)

	begin := time.Now()
	if err := s.startProcess(bin, opts, p); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.waitReady(); err != nil {
		err = fmt.Errorf("%s (port base %d): %w\nserver output (end):\n%s",
			s.Endpoint, p.base, err, s.outputTail())
		s.Stop()
		return nil, err
	}
	opts.Logf("s3test: S3 server %s ready in %v (dir %s)",
		s.Endpoint, time.Since(begin).Round(time.Millisecond), dir)
	return s, nil
}

func newServer(opts Options, dir string, p ports) *Server {
	admin, gateway := newKeyPair(), newKeyPair()
	s := &Server{
		Endpoint:         "http://127.0.0.1:" + strconv.Itoa(p.s3()),
		Region:           region,
		Bucket:           opts.Bucket,
		AdminAccessKey:   admin.AccessKey,
		AdminSecretKey:   admin.SecretKey,
		GatewayAccessKey: gateway.AccessKey,
		GatewaySecretKey: gateway.SecretKey,
		RoleARN:          roleARN(),
		Dir:              dir,
		logf:             opts.Logf,
		exited:           make(chan struct{}),
	}
	s.admin = s.newAdminClient()
	return s
}

// startProcess writes the configuration files and starts weed mini.
func (s *Server) startProcess(bin string, opts Options, p ports) error {
	for _, sub := range []string{"data", "logs"} {
		if err := os.Mkdir(filepath.Join(s.Dir, sub), 0o700); err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
	}
	admin := keyPair{s.AdminAccessKey, s.AdminSecretKey}
	gateway := keyPair{s.GatewayAccessKey, s.GatewaySecretKey}
	err := writeS3Config(s.path("s3.json"), admin, gateway)
	if err != nil {
		return err
	}
	err = writeIAMConfig(s.path("iam.json"), s.Bucket, opts.TokenDuration)
	if err != nil {
		return err
	}

	output, err := os.Create(s.path("weed.log"))
	if err != nil {
		return fmt.Errorf("server output: %w", err)
	}
	defer output.Close() // The child process keeps its own descriptor.

	s.cmd = exec.Command(bin, weedArgs(s.Dir, p, s.Bucket)...)
	s.cmd.Dir = s.Dir
	s.cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	s.cmd.Stdout = output
	s.cmd.Stderr = output
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Keep terminal signals meant for the test away from the server,
		// and kill the server if the test process dies without Stop.
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL,
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// weedArgs returns the command line for a loopback-only weed mini server
// with its state in dir. Flags that would open fixed ports (admin legacy,
// Iceberg, Lance), serve WebDAV or the admin UI, or report telemetry to an
// outside host are turned off.
func weedArgs(dir string, p ports, bucket string) []string {
	port := func(name string, value int) string {
		return "-" + name + "=" + strconv.Itoa(value)
	}
	return []string{
		"-logdir=" + filepath.Join(dir, "logs"),
		"mini",
		"-dir=" + filepath.Join(dir, "data"),
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-master.telemetry=false",
		"-webdav=false",
		"-admin.ui=false",
		port("master.port", p.master()),
		port("volume.port", p.volume()),
		port("filer.port", p.filer()),
		port("s3.port", p.s3()),
		port("admin.port", p.admin()),
		"-admin.port.legacy=0",
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3.localSocket=" + filepath.Join(dir, "s3.sock"),
		"-bucket=" + bucket,
		"-s3.config=" + filepath.Join(dir, "s3.json"),
		"-s3.iam.config=" + filepath.Join(dir, "iam.json"),
	}
}

func (s *Server) path(name string) string {
	return filepath.Join(s.Dir, name)
}

// waitReady polls until GET /status returns 200, the bucket exists and the
// gateway identity can assume the role.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	steps := []struct {
		name  string
		check func(context.Context) error
	}{
		{"GET /status", s.checkStatus},
		{"bucket " + s.Bucket, s.ensureBucket},
		{"AssumeRole", s.checkAssumeRole},
	}
	for _, step := range steps {
		if err := s.poll(ctx, step.check); err != nil {
			return fmt.Errorf("wait for %s: %w", step.name, err)
		}
	}
	return nil
}

// poll calls check until it succeeds, the process exits or ctx ends.
func (s *Server) poll(ctx context.Context, check func(context.Context) error) error {
	for {
		checkCtx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := check(checkCtx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w: %v", errExited, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("timed out after %v: %w", readyTimeout, err)
		case <-time.After(pollInterval):
		}
	}
}

func (s *Server) checkStatus(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		s.Endpoint+"/status", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /status: %s", resp.Status)
	}
	return nil
}

// Stop stops the server and removes Dir. It sends SIGTERM, and SIGKILL if
// the process has not exited 15 seconds later. It resumes a paused server
// first, because a stopped process cannot act on SIGTERM. Stop is safe to
// call more than once, and later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	if err := s.terminate(); err != nil {
		return err
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return fmt.Errorf("remove state dir: %w", err)
	}
	s.logf("s3test: S3 server %s stopped", s.Endpoint)
	return nil
}

func (s *Server) terminate() error {
	for _, sig := range []syscall.Signal{syscall.SIGCONT, syscall.SIGTERM} {
		if err := s.signal(sig); err != nil {
			return err
		}
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	s.logf("s3test: S3 server %s still running %v after SIGTERM; "+
		"sending SIGKILL", s.Endpoint, stopTimeout)
	if err := s.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.exited
	return nil
}

// signal sends sig to the server process. Signalling a process that has
// already exited is not an error.
func (s *Server) signal(sig syscall.Signal) error {
	err := s.cmd.Process.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send %v to S3 server: %w", sig, err)
	}
	return nil
}

// Pause freezes the server process with SIGSTOP. The kernel still accepts
// connections, but no request gets a response until Resume. Pause returns
// an error if the process has exited.
func (s *Server) Pause() error {
	if err := s.signalRunning(syscall.SIGSTOP); err != nil {
		return err
	}
	// kill(2) returns before the process has stopped, so wait until the
	// kernel reports it stopped; a request sent earlier could be served.
	stat := fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(stat)
		if err != nil {
			return fmt.Errorf("pause S3 server: %w", err)
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 &&
			i+2 < len(data) && data[i+2] == 'T' {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("pause S3 server: process did not stop within 5s")
}

// Resume continues a server frozen by Pause with SIGCONT. It returns an
// error if the process has exited.
func (s *Server) Resume() error {
	return s.signalRunning(syscall.SIGCONT)
}

func (s *Server) signalRunning(sig syscall.Signal) error {
	select {
	case <-s.exited:
		return fmt.Errorf("send %v to S3 server: %w: %v",
			sig, errExited, s.waitErr)
	default:
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("send %v to S3 server: %w", sig, err)
	}
	return nil
}

// outputTail returns the end of the process output in weed.log.
func (s *Server) outputTail() string {
	f, err := os.Open(s.path("weed.log"))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > outputTailBytes {
		f.Seek(info.Size()-outputTailBytes, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(data)
}
