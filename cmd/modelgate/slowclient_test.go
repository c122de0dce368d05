package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/demo"
)

// halfOpenCount is the number of connections the slow-client tests
// hold open. Client and server ends share this process, so it needs
// about twice as many file descriptors.
const halfOpenCount = 500

// partialRequest is the start of a request line, never finished.
const partialRequest = "GET /" + demo.Model + "/resolve/main/config.json HTT"

// raiseFileLimit raises the soft limit on open files to the hard limit
// when it is below need.
func raiseFileLimit(tb testing.TB, need uint64) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		tb.Skipf("open-file limit %d is below the %d this test needs",
			lim.Max, need)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("setrlimit: %v", err)
	}
}

// openHalfOpen opens n connections to addr that each send the start of
// a request line and nothing more. The cleanup closes them.
func openHalfOpen(tb testing.TB, addr string, n int) []net.Conn {
	tb.Helper()
	conns := make([]net.Conn, 0, n)
	tb.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			tb.Fatalf("dial connection %d: %v", len(conns)+1, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, partialRequest); err != nil {
			tb.Fatalf("write on connection %d: %v", len(conns), err)
		}
	}
	return conns
}

// stillOpen reports whether the server has neither closed c nor sent
// anything on it: a read until deadline finds nothing to read.
func stillOpen(c net.Conn, deadline time.Time) bool {
	c.SetReadDeadline(deadline)
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestHalfOpenConnectionsDoNotBlockRequests(t *testing.T) {
	raiseFileLimit(t, 4*halfOpenCount)
	// A long header timeout keeps the idle connections open for the
	// whole test. The in-flight cap is far below their number, which
	// shows that connections without a complete request do not count.
	g := startDemoGateway(t, "--read-header-timeout", "10m",
		"--max-in-flight", "8")
	held := openHalfOpen(t, g.Addr, halfOpenCount)

	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	requests := []struct {
		path   string
		status int
	}{
		{"/healthz", http.StatusOK},
		{"/readyz", http.StatusOK},
		{"/" + demo.Model + "/resolve/main/config.json", http.StatusFound},
		{"/api/models/" + demo.Model, http.StatusOK},
		{"/api/models/" + demo.Model + "/tree/main", http.StatusOK},
	}
	for round := range 20 {
		for _, rq := range requests {
			resp, err := client.Get(g.URL + rq.path)
			if err != nil {
				t.Fatalf("round %d: GET %s with %d half-open connections: "+
					"%v", round, rq.path, halfOpenCount, err)
			}
			resp.Body.Close()
			if resp.StatusCode != rq.status {
				t.Errorf("round %d: GET %s = %d, want %d", round, rq.path,
					resp.StatusCode, rq.status)
			}
		}
	}

	open := 0
	deadline := time.Now().Add(100 * time.Millisecond)
	for _, c := range held {
		if stillOpen(c, deadline) {
			open++
		}
	}
	if open != len(held) {
		t.Errorf("%d of %d half-open connections were still open after "+
			"the requests, want all", open, len(held))
	}
}

// TestHalfOpenConnectionsClosedAfterHeaderTimeout checks the defence
// against clients that never finish their headers: the server closes
// each such connection once --read-header-timeout has passed.
func TestHalfOpenConnectionsClosedAfterHeaderTimeout(t *testing.T) {
	const n = 50
	g := startDemoGateway(t, "--read-header-timeout", "1s")
	held := openHalfOpen(t, g.Addr, n)
	for i, c := range held {
		c.SetReadDeadline(time.Now().Add(requestTimeout))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d still open %v after its header "+
				"timeout of 1s", i, requestTimeout)
		}
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("connection %d: %v", i, err)
		}
	}
}
