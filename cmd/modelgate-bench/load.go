package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig sets up a load generator.
type loadConfig struct {
	// Addr is the server's host:port.
	Addr string

	// Paths are the escaped request paths. Each request picks one at
	// random.
	Paths []string

	// Concurrency is the number of connections, each with one request
	// in flight at a time.
	Concurrency int

	// Seed makes the sequence of paths repeatable.
	Seed uint64

	// Timeout bounds each request, from writing it to reading the
	// whole response.
	Timeout time.Duration
}

// loadSample holds the responses, errors and latencies that the load
// generator recorded between two calls of Drain.
type loadSample struct {
	// Elapsed is the time between the two calls.
	Elapsed time.Duration

	// Statuses counts the responses by status code.
	Statuses map[int]int64

	// Errors counts requests that got no response, and FirstError is
	// the first of their errors.
	Errors     int64
	FirstError error

	// Latencies are the times from writing each request to reading its
	// whole response, in no particular order.
	Latencies []time.Duration
}

// Responses returns the number of responses of any status.
func (s *loadSample) Responses() int64 {
	var n int64
	for _, c := range s.Statuses {
		n += c
	}
	return n
}

// loadGenerator sends GET requests over keep-alive HTTP/1.1 connections
// as fast as the server responds, at a fixed concurrency. It does
// not follow redirects. Every request runs from Start until Stop, and
// Drain reads out what has been recorded since the previous Drain.
type loadGenerator struct {
	workers  []*loadWorker
	stopping atomic.Bool
	wg       sync.WaitGroup

	mu        sync.Mutex
	lastDrain time.Time
}

// startLoad opens cfg.Concurrency connections and starts sending.
func startLoad(cfg loadConfig) (*loadGenerator, error) {
	if cfg.Concurrency < 1 || len(cfg.Paths) == 0 {
		return nil, errors.New("load needs a concurrency of at least 1 " +
			"and at least one path")
	}
	g := &loadGenerator{}
	for i := range cfg.Concurrency {
		c := &httpConn{addr: cfg.Addr, timeout: cfg.Timeout}
		if err := c.dial(); err != nil {
			g.closeAll()
			return nil, err
		}
		g.workers = append(g.workers, &loadWorker{
			conn:  c,
			paths: cfg.Paths,
			rng:   rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			rec:   newLoadSample(),
		})
	}

	g.lastDrain = time.Now()
	for _, w := range g.workers {
		g.wg.Go(func() { w.run(&g.stopping) })
	}
	return g, nil
}

// Drain returns what the workers recorded since the previous call, or
// since Start.
func (g *loadGenerator) Drain() loadSample {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	total := newLoadSample()
	total.Elapsed = now.Sub(g.lastDrain)
	g.lastDrain = now
	for _, w := range g.workers {
		s := w.drain()
		for code, n := range s.Statuses {
			total.Statuses[code] += n
		}
		total.Errors += s.Errors
		if total.FirstError == nil {
			total.FirstError = s.FirstError
		}
		total.Latencies = append(total.Latencies, s.Latencies...)
	}
	return total
}

// Stop ends the load and closes the connections. It waits for the
// requests in flight, each at most the request timeout.
func (g *loadGenerator) Stop() {
	g.stopping.Store(true)
	g.wg.Wait()
	g.closeAll()
}

func (g *loadGenerator) closeAll() {
	for _, w := range g.workers {
		w.conn.close()
	}
}

func newLoadSample() loadSample {
	return loadSample{Statuses: make(map[int]int64)}
}

// loadWorker sends requests one after another on its connection.
type loadWorker struct {
	conn  *httpConn
	paths []string
	rng   *rand.Rand

	mu  sync.Mutex
	rec loadSample
}

func (w *loadWorker) run(stopping *atomic.Bool) {
	for !stopping.Load() {
		path := w.paths[w.rng.IntN(len(w.paths))]
		start := time.Now()
		status, err := w.conn.get(path)
		elapsed := time.Since(start)

		w.mu.Lock()
		if err != nil {
			w.rec.Errors++
			if w.rec.FirstError == nil {
				w.rec.FirstError = err
			}
		} else {
			w.rec.Statuses[status]++
			w.rec.Latencies = append(w.rec.Latencies, elapsed)
		}
		w.mu.Unlock()

		if err != nil {
			// Wait a little before the next attempt, so a server that
			// is down does not make the worker spin.
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (w *loadWorker) drain() loadSample {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.rec
	w.rec = newLoadSample()
	w.rec.Latencies = make([]time.Duration, 0, len(s.Latencies))
	return s
}

// httpConn is one keep-alive HTTP/1.1 client connection. It writes each
// request by hand and reads only the framing of the response (status
// line, Content-Length, Transfer-Encoding and Connection), without
// allocating. This keeps the load generator's share of the machine
// small, and equal for responses with few or many headers.
type httpConn struct {
	addr    string
	timeout time.Duration

	conn net.Conn
	br   *bufio.Reader
	buf  []byte
}

func (c *httpConn) dial() error {
	conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *httpConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// get sends GET path and reads the whole response, returning its status
// code. After an error or a response that closes the connection, the
// next call opens a new connection.
func (c *httpConn) get(path string) (int, error) {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return 0, err
		}
	}
	status, keep, err := c.roundTrip(path)
	if err != nil || !keep {
		c.close()
	}
	return status, err
}

func (c *httpConn) roundTrip(path string) (status int, keep bool,
	err error,
) {
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, false, err
	}
	c.buf = append(c.buf[:0], "GET "...)
	c.buf = append(c.buf, path...)
	c.buf = append(c.buf, " HTTP/1.1\r\nHost: "...)
	c.buf = append(c.buf, c.addr...)
	c.buf = append(c.buf, "\r\nUser-Agent: modelgate-bench\r\n\r\n"...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return 0, false, fmt.Errorf("write request: %w", err)
	}

	h, err := readResponseHead(c.br)
	if err != nil {
		return 0, false, fmt.Errorf("read response: %w", err)
	}
	if err := skipBody(c.br, h); err != nil {
		return 0, false, fmt.Errorf("read response body: %w", err)
	}
	return h.status, !h.close, nil
}
