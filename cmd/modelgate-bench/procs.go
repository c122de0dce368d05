package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a server process that the bench started.
type child struct {
	name string
	cmd  *exec.Cmd

	// Addr is the host:port the server listens on.
	Addr string

	// Started is when the process was started.
	Started time.Time

	exited  chan struct{}
	waitErr error
}

// startChild starts cmd and watches for its exit. The child gets
// SIGKILL if the bench dies first, so no server outlives a run.
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, exited: make(chan struct{})}
	c.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// PID returns the process id.
func (c *child) PID() int { return c.cmd.Process.Pid }

// exitError returns why the process has exited, or nil while it runs.
func (c *child) exitError() error {
	select {
	case <-c.exited:
		return fmt.Errorf("%s exited: %v", c.name, c.waitErr)
	default:
		return nil
	}
}

// Stop sends SIGTERM and waits for the process to exit, killing it
// after timeout.
func (c *child) Stop(timeout time.Duration) error {
	if c.exitError() != nil {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(timeout):
		c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("%s did not stop within %v and was killed",
			c.name, timeout)
	}
}

// startStatic starts "modelgate-bench static" from the bench's own
// executable and waits until it reports its address.
func startStatic(exe, location string, headers headerList,
	stderr io.Writer,
) (*child, error) {
	args := []string{"static", "--listen", "127.0.0.1:0",
		"--location", location}
	for _, field := range headers {
		args = append(args, "--header", field)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c, err := startChild("static server", cmd)
	if err != nil {
		return nil, err
	}

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case c.Addr = <-addr:
		return c, nil
	case <-c.exited:
		return nil, c.exitError()
	case <-time.After(10 * time.Second):
		c.Stop(time.Second)
		return nil, errors.New("static server did not report its " +
			"address within 10s")
	}
}

// modelgateConfig sets up a gateway process.
type modelgateConfig struct {
	// Binary is the modelgate executable.
	Binary string

	// S3URL is the endpoint of the S3 server.
	S3URL string

	// Refresh is the catalog refresh interval.
	Refresh time.Duration

	// ExtraArgs are appended to the serve flags.
	ExtraArgs []string

	// Log receives the gateway's stderr: its log and access log.
	Log *os.File
}

// startModelgate starts "modelgate serve" on a free loopback port in
// front of the S3 server, with JSON logs at info level, so that every
// request writes an access-log record. It does not wait for readiness.
func startModelgate(cfg modelgateConfig) (*child, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	args := []string{"serve",
		"--listen", addr,
		"--bucket", benchBucket,
		"--region", "us-east-1",
		"--s3-endpoint", cfg.S3URL,
		"--s3-path-style",
		"--refresh-interval", cfg.Refresh.String(),
		"--log-format", "json",
		"--log-level", "info",
		// The in-memory S3 server authorises every request, so the
		// start-up check finds the credentials able to write.
		"--allow-write-credentials",
		// Limits far above the load, which comes from one client
		// address, so that the limiter runs on every request but never
		// rejects one.
		"--rate-download", "1000000", "--burst-download", "1000000",
		"--rate-api", "1000000", "--burst-api", "1000000",
	}
	args = append(args, cfg.ExtraArgs...)

	cmd := exec.Command(cfg.Binary, args...)
	cmd.Env = modelgateEnv(os.Environ())
	cmd.Stdout = cfg.Log
	cmd.Stderr = cfg.Log
	c, err := startChild("modelgate", cmd)
	if err != nil {
		return nil, err
	}
	c.Addr = addr
	return c, nil
}

// modelgateEnv returns base without AWS and modelgate settings, plus
// static credentials that the in-memory S3 server accepts. Shared AWS
// files are hidden, and the instance metadata service is disabled, so
// the gateway contacts nothing but the S3 server.
func modelgateEnv(base []string) []string {
	var env []string
	for _, kv := range base {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "MODELGATE_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=bench",
		"AWS_SECRET_ACCESS_KEY=bench-secret",
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

// freeLoopbackAddr returns a loopback address whose port was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls url every 5ms until it returns 200 OK, c exits or
// timeout passes. It returns the time from the start of c and the
// body of the first 200.
func waitReady(ctx context.Context, c *child, client *http.Client,
	url string, timeout time.Duration,
) (time.Duration, []byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		body, ok := probe(ctx, client, url)
		if ok {
			return time.Since(c.Started), body, nil
		}
		if err := c.exitError(); err != nil {
			return 0, nil, err
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("%s not ready after %v", url, timeout)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// probe reports whether GET url returns 200 OK, and returns the body.
func probe(ctx context.Context, client *http.Client, url string) (
	[]byte, bool,
) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, err == nil && resp.StatusCode == http.StatusOK
}

// buildModelgate builds the gateway into dir and returns its path. It
// must run inside the module's source tree.
func buildModelgate(ctx context.Context, dir string, stderr io.Writer) (
	string, error,
) {
	out := dir + "/modelgate"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out,
		"github.com/modelgate/modelgate/cmd/modelgate")
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build of modelgate failed (run the "+
			"bench inside the source tree, or pass --modelgate PATH): %w",
			err)
	}
	return out, nil
}
