package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refuseTimeout bounds the wait for the listener to close after SIGTERM.
const refuseTimeout = 10 * time.Second

// TestSIGTERMDrainsInFlight holds a paths-info request open by sending
// its body in two pieces, sends SIGTERM between them, and checks that
// new connections are refused while the held request still completes
// and the process then exits 0.
func TestSIGTERMDrainsInFlight(t *testing.T) {
	suiteFor(t)
	g := startGateway(t)

	body := `{"paths": ["config.json", "naïve/café ü.txt", "naïve"]}`
	first, rest := body[:len(body)/2], body[len(body)/2:]
	conn, br := startPathsInfo(t, g, len(body))
	mustWrite(t, conn, first)

	if err := g.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := waitRefused(g.Addr); err != nil {
		t.Error(err)
	}

	mustWrite(t, conn, rest)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response of the in-flight request: %v", err)
	}
	defer resp.Body.Close()
	checkPathsInfo(t, resp, []string{"config.json", "naïve/café ü.txt",
		"naïve"})

	code, err := g.wait(stopTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0\nstderr:\n%s", code, g.log(t))
	}
	if log := g.log(t); !strings.Contains(log, `"msg":"modelgate stopped"`) {
		t.Errorf("log has no \"modelgate stopped\" record:\n%s", log)
	}
}

// TestSIGTERMCutsStalledRequest holds a paths-info request open with
// half of its body sent, which it never finishes, and checks that after
// SIGTERM the gateway closes that connection when the drain timeout
// passes, logs a warning that counts it, and exits 0.
func TestSIGTERMCutsStalledRequest(t *testing.T) {
	suiteFor(t)
	g := startGateway(t, "--drain-timeout", "1s")

	body := `{"paths": ["config.json"]}`
	conn, br := startPathsInfo(t, g, len(body))
	mustWrite(t, conn, body[:len(body)/2])

	if err := g.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, err := g.wait(stopTimeout)
	if err != nil {
		t.Fatal(err)
	}
	log := g.log(t)
	if code != 0 {
		t.Errorf("exit code %d, want 0\nstderr:\n%s", code, log)
	}
	for _, want := range []string{
		`"msg":"drain timeout passed; closing the connections still open"`,
		`"connections":1`,
		`"msg":"modelgate stopped"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("the stalled connection got a response, want it closed")
	}
}

// startPathsInfo sends the head of a paths-info request whose JSON body
// has size bytes, and returns the connection once the request is in
// flight. With "Expect: 100-continue" the server sends "100 Continue"
// when the handler starts reading the body, so the request is known to
// be in flight before the test goes on. The connection is closed at
// cleanup.
func startPathsInfo(tb testing.TB, g *gateway, size int) (net.Conn,
	*bufio.Reader,
) {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", g.Addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(conn)

	head := fmt.Sprintf("POST /api/models/%s/paths-info/main HTTP/1.1\r\n"+
		"Host: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n",
		modelID, g.Addr, size)
	mustWrite(tb, conn, head)
	interim, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read interim response: %v", err)
	}
	if interim.StatusCode != http.StatusContinue {
		tb.Fatalf("interim status %d, want 100", interim.StatusCode)
	}
	return conn, br
}

func mustWrite(tb testing.TB, w io.Writer, s string) {
	tb.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		tb.Fatalf("write: %v", err)
	}
}

// waitRefused dials addr until a connection is refused, for at most
// refuseTimeout. Connections that still succeed are closed at once.
func waitRefused(addr string) error {
	deadline := time.Now().Add(refuseTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dial %s after SIGTERM: %v, want "+
				"connection refused", addr, err)
		}
		conn.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections %v after "+
				"SIGTERM", addr, refuseTimeout)
		}
		<-tick.C
	}
}

// checkPathsInfo checks a 200 paths-info response that lists want, in
// order.
func checkPathsInfo(tb testing.TB, resp *http.Response, want []string) {
	tb.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		tb.Fatalf("paths-info: status %d, want 200; body %q",
			resp.StatusCode, b)
	}
	var entries []struct {
		Type string `json:"type"`
		Path string `json:"path"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		tb.Fatalf("paths-info: decode body: %v", err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		tb.Errorf("paths-info listed %q, want %q", got, want)
	}
}
