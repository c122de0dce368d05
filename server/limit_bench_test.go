package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/server"
)

// fixedPresigner returns the same URL for every key, so that a benchmark
// measures the gateway rather than the signing.
type fixedPresigner struct{}

func (fixedPresigner) Presign(ctx context.Context, key, filename string) (
	presign.URL, error,
) {
	return presign.URL{
		URL:     "https://s3.invalid/models/acme/tiny/model.safetensors",
		Expires: pageModTime.Add(time.Hour),
	}, nil
}

// benchWriter is a ResponseWriter that keeps only the status, so that a
// benchmark reuses it and measures the gateway rather than a recorder.
type benchWriter struct {
	header http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(status int)      { w.status = status }

// reset clears the header and status for the next request.
func (w *benchWriter) reset() {
	clear(w.header)
	w.status = 0
}

// steppingClock returns a clock that advances one second per call. With
// the default limits every request is allowed with a nearly full bucket,
// as for a client that downloads now and then. It is not safe for
// concurrent use.
func steppingClock() func() time.Time {
	t := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

// newBenchLimiter returns the limiter of "modelgate serve" with its
// default limits, adapted to server.Limiter.
func newBenchLimiter(tb testing.TB) server.Limiter {
	tb.Helper()
	lim, err := ratelimit.New(ratelimit.Config{
		Download: ratelimit.Limit{Rate: 20, Burst: 200},
		API:      ratelimit.Limit{Rate: 20, Burst: 100},
	}, steppingClock())
	if err != nil {
		tb.Fatalf("ratelimit.New: %v", err)
	}
	return server.NewRateLimiter(lim)
}

// BenchmarkResolveLimit measures a whole resolve request through the
// router, which gets a redirect, with and without the rate limiter.
// The metrics are on and the log is discarded.
func BenchmarkResolveLimit(b *testing.B) {
	tests := []struct {
		name    string
		limiter func(testing.TB) server.Limiter
	}{
		{"no limiter", func(testing.TB) server.Limiter { return nil }},
		{"ratelimit", newBenchLimiter},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			metrics, err := server.NewMetrics(server.MetricsConfig{
				Registry: prometheus.NewRegistry(),
			})
			if err != nil {
				b.Fatalf("NewMetrics: %v", err)
			}
			cfg := server.Config{Limiter: tt.limiter(b), Metrics: metrics}
			srv, err := server.New(cfg, newPageCatalog(b, []pageObject{
				{"acme/tiny/model.safetensors", 4 << 20},
			}), fixedPresigner{})
			if err != nil {
				b.Fatalf("server.New: %v", err)
			}
			benchResolve(b, srv)
		})
	}
}

func benchResolve(b *testing.B, srv http.Handler) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet,
		"/acme/tiny/resolve/main/model.safetensors", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	w := &benchWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		srv.ServeHTTP(w, req)
		if w.status != http.StatusFound {
			b.Fatalf("GET %s: status %d, want 302", req.URL, w.status)
		}
	}
}
