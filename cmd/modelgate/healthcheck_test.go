package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// statusServer starts a loopback server that responds to every request
// with status, and returns its URL.
func statusServer(tb testing.TB, status int) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if status == http.StatusFound {
				http.Redirect(w, r, "/elsewhere", status)
				return
			}
			w.WriteHeader(status)
		}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// hangingServer starts a loopback server that sends no response until
// the client gives up, and returns its URL.
func hangingServer(tb testing.TB) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// closedPortURL returns a loopback URL on a port that nothing listens
// on, so a connection to it is refused.
func closedPortURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatalf("close listener: %v", err)
	}
	return "http://" + addr + "/healthz"
}

func TestHealthcheck(t *testing.T) {
	refusedURL := closedPortURL(t)
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStderr string
	}{
		{
			name:     "200 is healthy",
			args:     []string{"--url", statusServer(t, 200) + "/healthz"},
			wantCode: 0,
		},
		{
			name:       "503 is unhealthy",
			args:       []string{"--url", statusServer(t, 503) + "/healthz"},
			wantCode:   1,
			wantStderr: "status 503 Service Unavailable, want 200 OK",
		},
		{
			name:       "redirect is unhealthy",
			args:       []string{"--url", statusServer(t, 302) + "/healthz"},
			wantCode:   1,
			wantStderr: "status 302 Found",
		},
		{
			name:       "connection refused",
			args:       []string{"--url", refusedURL},
			wantCode:   1,
			wantStderr: "connection refused",
		},
		{
			name: "timeout",
			args: []string{"--url", hangingServer(t) + "/healthz",
				"--timeout", "50ms"},
			wantCode:   1,
			wantStderr: "context deadline exceeded",
		},
		{
			name: "URL from environment",
			env: map[string]string{
				"MODELGATE_HEALTHCHECK_URL": statusServer(t, 200) + "/healthz",
			},
			wantCode: 0,
		},
		{
			name: "flag beats environment",
			args: []string{"--url", refusedURL},
			env: map[string]string{
				"MODELGATE_HEALTHCHECK_URL": statusServer(t, 200) + "/healthz",
			},
			wantCode:   1,
			wantStderr: "connection refused",
		},
		{
			name:       "relative URL",
			args:       []string{"--url", "/healthz"},
			wantCode:   2,
			wantStderr: "not an absolute http or https URL",
		},
		{
			name:       "zero timeout",
			args:       []string{"--timeout", "0s"},
			wantCode:   2,
			wantStderr: "--timeout 0s must be positive",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			getenv := func(k string) string { return tt.env[k] }
			args := append([]string{"healthcheck"}, tt.args...)

			code := run(args, &stdout, &stderr, getenv, nil)
			if code != tt.wantCode {
				t.Fatalf("run(%q) = %d, want %d; stderr: %s",
					args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("run(%q) stderr = %q, want it to contain %q",
					args, stderr.String(), tt.wantStderr)
			}
			if code == 0 && !strings.Contains(stdout.String(), "200 OK") {
				t.Errorf("run(%q) stdout = %q, want it to name 200 OK",
					args, stdout.String())
			}
		})
	}
}

func TestHealthcheckHelpListsEnv(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"healthcheck", "--help"}, &stdout, &stderr,
		func(string) string { return "" }, nil)
	if code != 0 {
		t.Fatalf("healthcheck --help = %d, want 0", code)
	}
	for _, want := range []string{"[MODELGATE_HEALTHCHECK_URL]",
		"[MODELGATE_HEALTHCHECK_TIMEOUT]"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("healthcheck --help output lacks %s:\n%s",
				want, stderr.String())
		}
	}
}
