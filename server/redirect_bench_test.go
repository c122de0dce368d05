package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/server"
)

// benchModels and benchFiles size the benchmark catalog.
const (
	benchModels = 100
	benchFiles  = 100
)

// benchPath returns the download path of file f of model m.
func benchPath(m, f int) string {
	return fmt.Sprintf("/org-%03d/model-%04d/resolve/main/"+
		"model-%05d-of-%05d.safetensors", m/20, m, f+1, benchFiles)
}

// newBenchGateway returns the gateway's handler as modelgate serve
// builds it: metrics on, the log in JSON at info level to logOut, a
// rate limiter whose limits are never reached, and a catalog of
// benchModels models of benchFiles files. The access log goes to
// accessLog through Config.JSONAccessLog, as in modelgate serve, or
// through the logger to logOut when accessLog is nil.
func newBenchGateway(b *testing.B, logOut, accessLog io.Writer) http.Handler {
	b.Helper()
	mod := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var objects []catalog.Object
	for m := range benchModels {
		for f := range benchFiles {
			key := benchPath(m, f)[1:]
			key = key[:len("org-000/model-0000")] +
				key[len("org-000/model-0000/resolve/main"):]
			objects = append(objects, catalog.Object{Key: key,
				Size: 5 << 30, ETag: `"0123456789abcdef0123456789abcdef"`,
				Modified: mod})
		}
	}
	list := &listStub{}
	list.set(objects)

	logger := slog.New(slog.NewJSONHandler(logOut, nil))
	metrics, err := server.NewMetrics(server.MetricsConfig{
		Registry: prometheus.NewRegistry(), OnMainListener: true,
		Logger: logger})
	if err != nil {
		b.Fatalf("NewMetrics: %v", err)
	}
	cat, err := catalog.New(list, catalog.Config{Bucket: "models",
		OnRefresh: metrics.CatalogRefreshed})
	if err != nil {
		b.Fatalf("catalog.New: %v", err)
	}
	if _, err := cat.Refresh(context.Background()); err != nil {
		b.Fatalf("Refresh: %v", err)
	}
	srv, err := server.New(server.Config{Logger: logger,
		JSONAccessLog: accessLog, Metrics: metrics,
		Limiter: newHighLimiter(b)}, cat,
		newTestSigner(b))
	if err != nil {
		b.Fatalf("server.New: %v", err)
	}
	return srv
}

// newHighLimiter returns the limiter of modelgate serve with the
// highest limits it accepts, so that it decides every request of a
// benchmark but never rejects one.
func newHighLimiter(b *testing.B) server.Limiter {
	b.Helper()
	high := ratelimit.Limit{Rate: ratelimit.MaxRate,
		Burst: ratelimit.MaxBurst}
	lim, err := ratelimit.New(ratelimit.Config{Download: high, API: high},
		time.Now)
	if err != nil {
		b.Fatalf("ratelimit.New: %v", err)
	}
	return server.NewRateLimiter(lim)
}

// benchRedirects serves GET requests for different files to h, and
// fails unless each gets a 302.
func benchRedirects(b *testing.B, h http.Handler) {
	reqs := make([]*http.Request, 0, 1024)
	for i := range cap(reqs) {
		r := httptest.NewRequest(http.MethodGet,
			benchPath(i%benchModels, (i*7)%benchFiles), nil)
		r.RemoteAddr = "127.0.0.1:40000"
		reqs = append(reqs, r)
	}
	w := &benchWriter{header: make(http.Header)}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := reqs[i%len(reqs)]
		i++
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != http.StatusFound {
			b.Fatalf("GET %s = %d, want 302", r.URL, w.status)
		}
	}
}

// BenchmarkRedirect measures the gateway's handler for one download:
// routing, request id, catalog lookup, signing, metrics and an access
// log record encoded as JSON and discarded. The network is not
// involved, so compare it with BenchmarkStaticRedirect.
func BenchmarkRedirect(b *testing.B) {
	benchRedirects(b, newBenchGateway(b, io.Discard, io.Discard))
}

// BenchmarkRedirectSlogAccessLog is BenchmarkRedirect with the access
// log encoded by slog.JSONHandler instead of Config.JSONAccessLog.
func BenchmarkRedirectSlogAccessLog(b *testing.B) {
	benchRedirects(b, newBenchGateway(b, io.Discard, nil))
}

// BenchmarkStaticRedirect measures a chi router that responds to the same
// route with a fixed 302: the floor under BenchmarkRedirect.
func BenchmarkStaticRedirect(b *testing.B) {
	r := chi.NewRouter()
	r.Get("/{org}/{name}/resolve/{rev}/*",
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "http://127.0.0.1:9/models/file")
			w.WriteHeader(http.StatusFound)
		})
	benchRedirects(b, r)
}
