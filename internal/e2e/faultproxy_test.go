package e2e

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// faultMode is what a faultProxy does with the connections it gets.
type faultMode int

const (
	// proxyForward relays each connection to the backend.
	proxyForward faultMode = iota
	// proxyRefuse closes the listener, so connections are refused.
	proxyRefuse
	// proxyReset accepts each connection and resets it at once.
	proxyReset
	// proxyThrottle responds to every request with 503 SlowDown and a
	// new x-amz-request-id each time, as S3 does when it sheds load.
	proxyThrottle
)

func (m faultMode) String() string {
	return [...]string{"forward", "refuse", "reset", "throttle"}[m]
}

// faultProxy is a TCP proxy on 127.0.0.1 in front of an S3 server,
// whose failure mode a test switches. A mode change closes every open
// connection, so no kept-alive connection outlives it. It is safe for
// concurrent use.
type faultProxy struct {
	// Addr is the proxy's address, "127.0.0.1:PORT"; URL is its
	// "http://" form. Both stay the same across mode changes.
	Addr, URL string

	backend string

	mu    sync.Mutex
	mode  faultMode
	ln    net.Listener // nil while refusing
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// startFaultProxy starts a proxy to backend ("host:port") in mode and
// stops it in tb.Cleanup.
func startFaultProxy(tb testing.TB, backend string,
	mode faultMode,
) *faultProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &faultProxy{Addr: ln.Addr().String(), backend: backend,
		mode: proxyForward, conns: make(map[net.Conn]bool)}
	p.URL = "http://" + p.Addr
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
	tb.Cleanup(func() {
		p.mu.Lock()
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		p.closeConnsLocked()
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.set(tb, mode)
	return p
}

// set switches the proxy to mode and closes the open connections.
func (p *faultProxy) set(tb testing.TB, mode faultMode) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = mode
	p.closeConnsLocked()
	switch {
	case mode == proxyRefuse && p.ln != nil:
		p.ln.Close()
		p.ln = nil
	case mode != proxyRefuse && p.ln == nil:
		// Linux lets a listener take a port back at once; another
		// process taking it in between would fail the test here.
		ln, err := net.Listen("tcp", p.Addr)
		if err != nil {
			tb.Fatalf("proxy: listen on %s again: %v", p.Addr, err)
		}
		p.ln = ln
		p.wg.Add(1)
		go p.accept(ln)
	}
}

func (p *faultProxy) closeConnsLocked() {
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// track records c as open, unless the proxy has since closed ln. It
// reports whether c was recorded.
func (p *faultProxy) track(ln net.Listener, c net.Conn) (faultMode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		return 0, false
	}
	p.conns[c] = true
	return p.mode, true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *faultProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		mode, ok := p.track(ln, c)
		if !ok {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			defer c.Close()
			p.handle(c, mode)
		}()
	}
}

func (p *faultProxy) handle(c net.Conn, mode faultMode) {
	switch mode {
	case proxyForward:
		p.forward(c)
	case proxyReset:
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	case proxyThrottle:
		throttle(c)
	}
}

// forward relays c to the backend in both directions until either side
// closes.
func (p *faultProxy) forward(c net.Conn) {
	b, err := net.DialTimeout("tcp", p.backend, 5*time.Second)
	if err != nil {
		return
	}
	defer b.Close()
	p.mu.Lock()
	p.conns[b] = true
	p.mu.Unlock()
	defer p.untrack(b)

	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
}

// throttle responds to each request on c with S3's 503 SlowDown error.
func throttle(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		id := make([]byte, 8)
		rand.Read(id)
		rid := hex.EncodeToString(id)
		body := "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>" +
			"<Code>SlowDown</Code><Message>Please reduce your request " +
			"rate.</Message><RequestId>" + rid + "</RequestId></Error>"
		_, err = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\n"+
			"Content-Type: application/xml\r\n"+
			"x-amz-request-id: %s\r\nx-amz-id-2: %s\r\n"+
			"Content-Length: %d\r\n\r\n%s", rid, rid, len(body), body)
		if err != nil {
			return
		}
	}
}
