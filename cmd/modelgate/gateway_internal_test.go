package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/modelgate/modelgate/internal/demo"
)

// requestTimeout bounds each request a test sends to a gateway.
const requestTimeout = 30 * time.Second

// demoGateway is the gateway that serve wires up, running in-process in
// front of the demo's in-memory S3 server, which checks no signatures.
type demoGateway struct {
	// Addr is the gateway's listen address, "127.0.0.1:PORT".
	Addr string
	// URL is "http://" + Addr.
	URL string
	// Logs holds the gateway's JSON log.
	Logs *lockedBuffer
}

// startDemoGateway runs serve with the serve flags in args, on a free
// loopback port, against a new in-memory S3 server seeded with
// demo.Model. It returns once /readyz returns 200, and stops both
// servers in tb.Cleanup.
func startDemoGateway(tb testing.TB, args ...string) *demoGateway {
	tb.Helper()
	tb.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s3srv, err := demo.Start("127.0.0.1:0")
	if err != nil {
		tb.Fatalf("demo.Start: %v", err)
	}
	tb.Cleanup(func() { s3srv.Close() })

	var o serveOptions
	fs := newFlagSet("serve", "", io.Discard)
	o.register(fs)
	// The tests send more requests per second than the default rate
	// limits allow; a test that needs limits turns them back on.
	args = append([]string{"--listen", "127.0.0.1:0",
		"--rate-limit=false"}, args...)
	noEnv := func(string) string { return "" }
	if err := parseFlags(fs, args, noEnv); err != nil {
		tb.Fatalf("parse %q: %v", args, err)
	}
	o.bucket = demo.Bucket
	o.aws.Endpoint = s3srv.URL
	o.aws.PathStyle = true
	// The in-memory server lets every identity write, as in the demo.
	o.skipWriteCheck = true
	if err := o.validate(); err != nil {
		tb.Fatalf("validate: %v", err)
	}

	g := &demoGateway{Logs: &lockedBuffer{}}
	log := slog.New(slog.NewJSONHandler(g.Logs, nil))
	// The access log takes the direct JSON path, as openLog sets up.
	o.accessLog = g.Logs
	creds := credentials.NewStaticCredentialsProvider("demo", "demo", "")
	awsCfg := aws.Config{Region: o.aws.Region, Credentials: creds}

	ctx, cancel := context.WithCancel(context.Background())
	var serveErr error
	stopped := make(chan struct{})
	go func() {
		serveErr = serve(ctx, &o, log, awsCfg, creds)
		close(stopped)
	}()
	tb.Cleanup(func() {
		cancel()
		<-stopped
		if serveErr != nil {
			tb.Errorf("serve: %v", serveErr)
		}
	})
	g.Addr = waitListening(tb, g.Logs, stopped)
	g.URL = "http://" + g.Addr
	g.waitReady(tb)
	return g
}

// waitListening returns the address of the first "listening" record in
// logs, waiting up to 10 seconds for it.
func waitListening(tb testing.TB, logs *lockedBuffer,
	stopped <-chan struct{},
) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if addrs := listening(logs.String()); len(addrs) > 0 {
			return addrs[0]
		}
		select {
		case <-stopped:
			tb.Fatalf("serve returned early:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no listening record after 10s:\n%s", logs)
		}
	}
}

// waitReady polls /readyz until it returns 200, for up to 10 seconds.
func (g *demoGateway) waitReady(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(g.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gateway not ready after 10s: %v\n%s", err, g.Logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawResponse is a response read off the wire, with its body.
type rawResponse struct {
	*http.Response
	Body string
}

// raw sends head, a request line and header lines without the final
// blank line, byte for byte over a new connection, adds
// "Connection: close" and the blank line, and reads the response to
// method. It reaches targets and headers that net/http's client would
// escape or refuse.
func (g *demoGateway) raw(tb testing.TB, method, head string) rawResponse {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", g.Addr, 5*time.Second)
	if err != nil {
		tb.Fatalf("dial %s: %v", g.Addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(requestTimeout))
	msg := head + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, msg); err != nil {
		tb.Fatalf("write %.200q: %v", head, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn),
		&http.Request{Method: method})
	if err != nil {
		tb.Fatalf("read response to %.200q: %v", head, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read body of %.200q: %v", head, err)
	}
	return rawResponse{Response: resp, Body: string(body)}
}

// get sends "method target HTTP/1.1" with a Host header and the extra
// header lines.
func (g *demoGateway) get(tb testing.TB, method, target string,
	headers ...string,
) rawResponse {
	tb.Helper()
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s", method, target,
		g.Addr)
	if len(headers) > 0 {
		head += "\r\n" + strings.Join(headers, "\r\n")
	}
	return g.raw(tb, method, head)
}
