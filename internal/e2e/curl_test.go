package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// curlPath returns the curl binary, or skips tb when it is missing.
func curlPath(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		tb.Skip("curl is not installed")
	}
	return p
}

// runCurl runs curl with args in dir and returns its standard output.
// It ignores every curlrc file and proxy setting, so it only reaches the
// loopback URLs in args.
func runCurl(tb testing.TB, dir string, args ...string) []byte {
	tb.Helper()
	full := append([]string{"-q", "--noproxy", "*", "-sS",
		"--max-time", "60"}, args...)
	cmd := exec.Command(curlPath(tb), full...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err,
			stderr.Bytes())
	}
	return out
}

// downloadWithCurl runs curl -L -O -J on rawURL in a new directory and
// returns the name and contents of the single file it saved.
func downloadWithCurl(tb testing.TB, rawURL string) (string, []byte) {
	tb.Helper()
	dir := tb.TempDir()
	runCurl(tb, dir, "-L", "-O", "-J", rawURL)
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		tb.Fatalf("curl -L -O -J %s saved %q, want one file", rawURL, names)
	}
	name := entries[0].Name()
	body, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return name, body
}

func TestCurlDownload(t *testing.T) {
	s := suiteFor(t)
	curlPath(t)
	g := startGateway(t)
	f := s.fixtureFile(t, bigFile)

	// The URL ends in "model%20%281%29.bin", so curl -J saves the file as
	// "model (1).bin" only when S3 returns the Content-Disposition that
	// the pre-signed URL requests.
	name, body := downloadWithCurl(t, g.resolveURL(escapeStrict(bigFile)))
	if want := filepath.Base(bigFile); name != want {
		t.Errorf("curl saved %q, want %q", name, want)
	}
	if !bytes.Equal(body, f.Body) {
		t.Errorf("curl saved %d bytes that differ from the %d uploaded",
			len(body), len(f.Body))
	}
}

func TestCurlHead(t *testing.T) {
	s := suiteFor(t)
	curlPath(t)
	g := startGateway(t)
	for _, p := range []string{bigFile, "日本語.json", "empty.txt"} {
		t.Run(p, func(t *testing.T) {
			f := s.fixtureFile(t, p)
			out := runCurl(t, t.TempDir(), "-I", "-L",
				g.resolveURL(escapeStrict(p)))
			status, length := lastHeaders(t, out)
			if status != 200 {
				t.Errorf("curl -I -L: status %d, want 200\n%s", status, out)
			}
			if length != int64(len(f.Body)) {
				t.Errorf("curl -I -L: Content-Length %d, want %d\n%s",
					length, len(f.Body), out)
			}
		})
	}
}

// lastHeaders parses the output of curl -I -L and returns the status and
// Content-Length of the last response, or -1 for a missing length.
func lastHeaders(tb testing.TB, out []byte) (int, int64) {
	tb.Helper()
	status, length := 0, int64(-1)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "HTTP/") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				tb.Fatalf("invalid status line %q", line)
			}
			code, err := strconv.Atoi(fields[1])
			if err != nil {
				tb.Fatalf("invalid status line %q", line)
			}
			status, length = code, -1
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(name, "Content-Length") {
			n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
			if err != nil {
				tb.Fatalf("invalid header %q", line)
			}
			length = n
		}
	}
	return status, length
}
