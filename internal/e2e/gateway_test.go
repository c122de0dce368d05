package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the wait for a gateway to become ready.
	startTimeout = 30 * time.Second
	// stopTimeout bounds the wait for a gateway to exit after SIGTERM.
	// It exceeds the gateway's default drain timeout of 20 seconds.
	stopTimeout = 30 * time.Second
	// startAttempts is how often a gateway is started on a new port when
	// the port it was given was taken in the meantime.
	startAttempts = 3
)

// gateway is a running modelgate process listening on 127.0.0.1.
type gateway struct {
	// URL is the gateway's base URL, "http://127.0.0.1:PORT".
	URL string
	// Addr is the listen address, "127.0.0.1:PORT".
	Addr string
	// Locations records the signed URLs that the gateway's clients saw.
	Locations *locationLog

	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited
	waitErr error         // the result of cmd.Wait, set before exited closes
}

// startGateway runs "modelgate serve" against the suite's S3 server with
// the gateway identity, which may only assume the read-only role, and
// waits until it is ready. Extra flags are appended. The cleanup stops
// the process and checks that its log contains no secret.
func startGateway(tb testing.TB, extra ...string) *gateway {
	tb.Helper()
	env := gatewayEnv(tb)
	g := startProcess(tb, env, func(addr string) []string {
		return serveArgs(tb, addr, extra...)
	})
	tb.Cleanup(func() { checkLogClean(tb, g) })
	return g
}

// serveArgs returns the arguments of "modelgate serve" against the
// suite's S3 server on addr, with extra appended. A flag in extra
// overrides the same flag before it. The tests read the log while the
// gateway runs, so it writes each line at once.
func serveArgs(tb testing.TB, addr string, extra ...string) []string {
	tb.Helper()
	s := suiteFor(tb)
	args := []string{"serve",
		"--role-arn", s.s3.RoleARN,
		"--sts-endpoint", s.s3.Endpoint,
		"--s3-endpoint", s.s3.Endpoint,
		"--s3-path-style",
		"--bucket", s.s3.Bucket,
		"--listen", addr,
		"--log-format", "json",
		"--log-flush-interval", "0",
	}
	return append(args, extra...)
}

// gatewayEnv returns a minimal environment for a gateway: the gateway
// identity's keys, empty AWS configuration files and no instance
// metadata lookups. Nothing else is inherited, so no AWS profile or
// MODELGATE_ variable of the caller leaks in.
func gatewayEnv(tb testing.TB) []string {
	tb.Helper()
	s := suiteFor(tb)
	home := tb.TempDir()
	empty := filepath.Join(home, "empty-aws-config")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + s.s3.GatewayAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.s3.GatewaySecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + empty,
		"AWS_SHARED_CREDENTIALS_FILE=" + empty,
	}
}

// startProcess runs the binary with the arguments that args returns for
// a free loopback address, waits for /readyz to return 200 and stops the
// process in tb.Cleanup. It tries a new port when the process exits
// before it is ready because its port was taken.
func startProcess(tb testing.TB, env []string,
	args func(addr string) []string,
) *gateway {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		addr := freeAddr(tb)
		g, err := launch(tb, env, addr, args(addr))
		if err == nil {
			return g
		}
		log := g.log(tb)
		if attempt < startAttempts &&
			strings.Contains(log, "address already in use") {
			continue
		}
		tb.Fatalf("start modelgate: %v\nstderr:\n%s", err, log)
	}
}

// launch starts one process and waits until it is ready. It returns the
// gateway, whose cleanup is registered, even when it fails to start.
func launch(tb testing.TB, env []string, addr string, args []string) (
	*gateway, error,
) {
	tb.Helper()
	g := spawn(tb, env, addr, args)
	return g, g.waitReady()
}

// spawn starts one process listening on addr and returns at once. Its
// cleanup stops the process.
func spawn(tb testing.TB, env []string, addr string,
	args []string,
) *gateway {
	tb.Helper()
	dir := tb.TempDir()
	g := &gateway{
		Addr:      addr,
		Locations: newLocationLog(),
		logPath:   filepath.Join(dir, "stderr.log"),
		exited:    make(chan struct{}),
	}
	g.URL = "http://" + g.Addr

	stderr, err := os.Create(g.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer stderr.Close()
	stdout, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer stdout.Close()

	g.cmd = exec.Command(suiteFor(tb).bin, args...)
	g.cmd.Env = env
	g.cmd.Stdout = stdout
	g.cmd.Stderr = stderr
	if err := g.cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", suiteFor(tb).bin, err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		close(g.exited)
	}()
	tb.Cleanup(func() {
		if err := g.stop(); err != nil {
			tb.Errorf("stop modelgate: %v", err)
		}
	})
	return g
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitReady polls /readyz until it returns 200, the process exits or
// startTimeout passes.
func (g *gateway) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	client := newClient(nil, false)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			g.URL+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.exited:
			return fmt.Errorf("modelgate exited before it was ready: %v",
				g.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("modelgate not ready after %v: last "+
				"/readyz error %v", startTimeout, err)
		case <-tick.C:
		}
	}
}

// signal sends sig to the process.
func (g *gateway) signal(sig syscall.Signal) error {
	return g.cmd.Process.Signal(sig)
}

// wait waits up to timeout for the process to exit and returns its exit
// code.
func (g *gateway) wait(timeout time.Duration) (int, error) {
	select {
	case <-g.exited:
	case <-time.After(timeout):
		return -1, fmt.Errorf("modelgate still running after %v", timeout)
	}
	var exitErr *exec.ExitError
	if g.waitErr != nil && !errors.As(g.waitErr, &exitErr) {
		return -1, g.waitErr
	}
	return g.cmd.ProcessState.ExitCode(), nil
}

// stop sends SIGTERM, waits for the process to exit and kills it when it
// does not exit within stopTimeout. It is a no-op once the process has
// exited.
func (g *gateway) stop() error {
	select {
	case <-g.exited:
		return nil
	default:
	}
	if err := g.signal(syscall.SIGTERM); err != nil &&
		!errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	if _, err := g.wait(stopTimeout); err != nil {
		g.cmd.Process.Kill()
		<-g.exited
		return fmt.Errorf("%w; killed", err)
	}
	return nil
}

// log returns everything the process has written to stderr so far.
func (g *gateway) log(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(g.logPath)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
