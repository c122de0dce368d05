package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests. It is not safe for concurrent
// use.
type fakeClock struct {
	t time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// testConfig returns a configuration with small anonymous budgets.
func testConfig() Config {
	return Config{
		Download: Limit{Rate: 1, Burst: 3},
		API:      Limit{Rate: 2, Burst: 5},
	}
}

func newTestLimiter(tb testing.TB, cfg Config) (*Limiter, *fakeClock) {
	tb.Helper()
	clock := newFakeClock()
	l, err := New(cfg, clock.Now)
	if err != nil {
		tb.Fatalf("New() error = %v", err)
	}
	return l, clock
}

// newRequest returns a GET request from remote with the given header
// fields, as name and value pairs. Repeated names add field lines.
func newRequest(tb testing.TB, remote string, fields ...string) *http.Request {
	tb.Helper()
	if len(fields)%2 != 0 {
		tb.Fatalf("newRequest: odd number of header arguments %q", fields)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/models", nil)
	r.RemoteAddr = remote
	for i := 0; i < len(fields); i += 2 {
		r.Header.Add(fields[i], fields[i+1])
	}
	return r
}

func mustPrefixes(tb testing.TB, s string) []netip.Prefix {
	tb.Helper()
	p, err := ParseTrustedProxies(s)
	if err != nil {
		tb.Fatalf("ParseTrustedProxies(%q) error = %v", s, err)
	}
	return p
}

// countAllowed sends n requests and returns how many were allowed.
func countAllowed(l *Limiter, r *http.Request, b Budget, n int) int {
	allowed := 0
	for range n {
		if l.Allow(r, b).Allowed {
			allowed++
		}
	}
	return allowed
}
