package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/time/rate"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/publish"
)

// buildBinary builds the modelgate command into a temporary folder.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "modelgate")
	cmd := exec.Command("go", "build", "-o", bin,
		"github.com/modelgate/modelgate/cmd/modelgate")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// publishCommand returns the command that publishes dir as model
// through endpoint, with the access key pair in its environment and no
// other AWS configuration.
func publishCommand(tb testing.TB, bin, endpoint, dir, model,
	accessKey, secretKey string, extra ...string,
) *exec.Cmd {
	tb.Helper()
	home := tb.TempDir()
	args := append([]string{"publish", dir, "--model", model,
		"--bucket", testS3.Bucket, "--s3-endpoint", endpoint,
		"--s3-path-style", "--part-size", "5MiB",
		"--multipart-threshold", "5MiB"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_ACCESS_KEY_ID=" + accessKey,
		"AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
	}
	return cmd
}

func TestPublishKilledKeepsPreviousManifest(t *testing.T) {
	const model = "acme/killed"
	bin := buildBinary(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"a.txt": []byte("version 1"), "big.bin": randomBytes(12 << 20)})
	mustPublish(t, adminClient(), testConfig(model, dir))
	manifestKey := model + "/" + catalog.ManifestPath
	v1Manifest := getObject(t, manifestKey)
	v1Big, err := os.ReadFile(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}

	v2 := map[string][]byte{
		"a.txt": []byte("version 2"), "big.bin": randomBytes(12 << 20)}
	writeFiles(t, dir, v2)

	// At 4 MiB/s the 12 MiB file takes three seconds; the process is
	// killed once 8 MiB went through, in the middle of it.
	proxy := startThrottledProxy(t, testS3.Endpoint, 4<<20, 8<<20)
	cmd := publishCommand(t, bin, proxy.url, dir, model,
		testS3.AdminAccessKey, testS3.AdminSecretKey,
		"--concurrency", "1", "--parallel-files", "1")
	exited, stderr := startCommand(t, cmd)
	select {
	case <-proxy.reached:
	case <-exited:
		t.Fatalf("publish ended before it was killed: %v; output:\n%s",
			cmd.ProcessState, stderr())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
	<-exited
	output := stderr()
	if !strings.Contains(output, "uploaded a.txt") ||
		strings.Contains(output, "uploaded big.bin") {
		t.Fatalf("killed at the wrong time; output:\n%s", output)
	}

	if got := getObject(t, manifestKey); !bytes.Equal(got, v1Manifest) {
		t.Errorf("the killed run replaced the manifest:\n%s", got)
	}
	g := newGateway(t)
	g.refresh(t)
	tree := g.tree(t, model)
	if e := tree["a.txt"]; e.LFS != nil {
		t.Errorf("a.txt, replaced by the killed run, has lfs %+v", *e.LFS)
	}
	checkLFS(t, "tree", tree["big.bin"], hexSHA256(v1Big), len(v1Big))

	res := mustPublish(t, adminClient(), testConfig(model, dir))
	want := map[string]publish.Action{
		"a.txt": publish.Skip, "big.bin": publish.Upload}
	if got := actions(res); !reflect.DeepEqual(got, want) {
		t.Errorf("rerun plan = %v, want %v", got, want)
	}
	g.refresh(t)
	tree = g.tree(t, model)
	for p, content := range v2 {
		checkLFS(t, "tree", tree[p], hexSHA256(content), len(content))
	}
}

func TestPublishCommandRejectsReadOnlyRole(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"a.txt": []byte("a")})
	before := bucketListing(t)

	cmd := publishCommand(t, bin, testS3.Endpoint, dir, "acme/cli-ro",
		testS3.GatewayAccessKey, testS3.GatewaySecretKey,
		"--role-arn", testS3.RoleARN, "--sts-endpoint", testS3.Endpoint)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("publish with the read-only role: %v, want exit "+
			"code 1; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "read-only role cannot publish") {
		t.Errorf("output does not explain the read-only role:\n%s", out)
	}
	if after := bucketListing(t); !reflect.DeepEqual(after, before) {
		t.Errorf("rejected publish changed the bucket")
	}
}

// startCommand starts cmd, and kills it at cleanup if it still runs. It
// returns a channel closed when the command has ended, and a function
// that returns the standard error written so far.
func startCommand(tb testing.TB, cmd *exec.Cmd) (<-chan struct{},
	func() string,
) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "stderr")
	out, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close() // the child keeps its own descriptor
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	tb.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return exited, func() string {
		data, _ := os.ReadFile(path)
		return string(data)
	}
}

// throttledProxy forwards TCP connections to an S3 endpoint, sending
// requests upstream at a limited rate, and closes reached once a given
// number of bytes went upstream.
type throttledProxy struct {
	url     string
	target  string
	limiter *rate.Limiter
	sent    atomic.Int64
	mark    int64
	reached chan struct{}
	once    sync.Once
}

func startThrottledProxy(tb testing.TB, endpoint string,
	bytesPerSecond, mark int64,
) *throttledProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &throttledProxy{
		url:     "http://" + ln.Addr().String(),
		target:  strings.TrimPrefix(endpoint, "http://"),
		limiter: rate.NewLimiter(rate.Limit(bytesPerSecond), 64<<10),
		mark:    mark,
		reached: make(chan struct{}),
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		cancel()
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.serve(ctx, conn) })
		}
	})
	return p
}

// serve forwards one connection until either side closes it or ctx is
// done.
func (p *throttledProxy) serve(ctx context.Context, client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	stop := context.AfterFunc(ctx, func() {
		client.Close()
		upstream.Close()
	})
	defer stop()

	go func() {
		io.Copy(client, upstream)
		client.Close()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if p.limiter.WaitN(ctx, n) != nil {
				return
			}
			if _, err := upstream.Write(buf[:n]); err != nil {
				return
			}
			if p.sent.Add(int64(n)) >= p.mark {
				p.once.Do(func() { close(p.reached) })
			}
		}
		if err != nil {
			return
		}
	}
}
