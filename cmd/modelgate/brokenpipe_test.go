package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoSurvivesClosedLogPipe closes the read end of the pipe that
// receives the gateway's log, as a log shipper that stops would, and
// checks that the gateway keeps serving and exits 0 on SIGTERM.
func TestDemoSurvivesClosedLogPipe(t *testing.T) {
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "demo", "--listen", addr,
		"--log-flush-interval", "0")
	cmd.Env = []string{runMainEnv + "=1",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
	logPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("StderrPipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start modelgate: %v", err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		cmd.Process.Kill()
	})

	sc := bufio.NewScanner(logPipe)
	listening := false
	for !listening && sc.Scan() {
		listening = strings.Contains(sc.Text(), `"msg":"listening"`)
	}
	if !listening {
		t.Fatalf("log ended before the listening line: %v", sc.Err())
	}
	logPipe.Close()
	go func() { exited <- cmd.Wait() }()

	// Each request writes an access-log record into the closed pipe.
	for i := range 5 {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz %d after the log pipe closed: %v",
				i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz %d: status %d, want 200", i+1,
				resp.StatusCode)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(time.Minute):
		t.Fatal("modelgate did not exit after SIGTERM")
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0 (%v)", code,
			cmd.ProcessState)
	}
}
