package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/server"
)

// emptyCatalog is a catalog that never loads.
type emptyCatalog struct{}

func (emptyCatalog) Snapshot(context.Context) (*catalog.Snapshot, error) {
	return nil, catalog.ErrNotLoaded
}

func (emptyCatalog) Current() *catalog.Snapshot { return nil }

// noSigner is a presigner that is never called by these tests.
type noSigner struct{}

func (noSigner) Presign(context.Context, string, string) (presign.URL,
	error,
) {
	return presign.URL{}, io.EOF
}

// lockedBuffer is a bytes.Buffer that is safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// listening returns the addresses of the "listening" log records in
// logs, in order.
func listening(logs string) []string {
	var addrs []string
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil &&
			rec.Msg == "listening" {
			addrs = append(addrs, rec.Addr)
		}
	}
	return addrs
}

// startListeners runs listenAndServe with o until the test ends and
// returns the addresses it listens on: the main one, then the metrics
// one if any.
func startListeners(t *testing.T, o *serveOptions) []string {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	metrics, err := newMetrics(o, log)
	if err != nil {
		t.Fatalf("newMetrics: %v", err)
	}
	srv, err := server.New(server.Config{Metrics: metrics, Logger: log},
		emptyCatalog{}, noSigner{})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- listenAndServe(ctx, o, log, srv, metrics) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("listenAndServe: %v", err)
		}
	})

	want := 1
	if o.metricsListen != "" {
		want = 2
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if addrs := listening(logs.String()); len(addrs) == want {
			return addrs
		}
		select {
		case err := <-done:
			t.Fatalf("listenAndServe returned early: %v\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d listening records after 10s:\n%s", want, logs)
		}
	}
}

// getStatus returns the status of a GET of url.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK &&
		strings.HasSuffix(url, "/metrics") &&
		!bytes.Contains(body, []byte("modelgate_build_info{")) {
		t.Errorf("GET %s has no modelgate_build_info", url)
	}
	return resp.StatusCode
}

func TestMetricsListener(t *testing.T) {
	tests := []struct {
		name          string
		metricsListen string
		mainMetrics   int
	}{
		{"main listener", "", http.StatusOK},
		{"separate listener", "127.0.0.1:0", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &serveOptions{listen: "127.0.0.1:0",
				metricsListen:     tt.metricsListen,
				drainTimeout:      5 * time.Second,
				readHeaderTimeout: time.Second,
				idleTimeout:       time.Second,
				maxHeaderBytes:    1 << 16}
			addrs := startListeners(t, o)
			main := "http://" + addrs[0]

			if got := getStatus(t, main+"/metrics"); got != tt.mainMetrics {
				t.Errorf("main GET /metrics = %d, want %d", got,
					tt.mainMetrics)
			}
			if got := getStatus(t, main+"/healthz"); got != http.StatusOK {
				t.Errorf("main GET /healthz = %d, want 200", got)
			}
			if len(addrs) < 2 {
				return
			}
			side := "http://" + addrs[1]
			if got := getStatus(t, side+"/metrics"); got != http.StatusOK {
				t.Errorf("metrics GET /metrics = %d, want 200", got)
			}
			if got := getStatus(t, side+"/healthz"); got != http.StatusNotFound {
				t.Errorf("metrics GET /healthz = %d, want 404", got)
			}
		})
	}
}

func TestValidateMetricsListen(t *testing.T) {
	o := serveOptions{bucket: "models", listen: "127.0.0.1:8080",
		metricsListen: "9090"}
	err := o.validate()
	if err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("validate(--metrics-listen 9090) = %v, want an error "+
			"naming --metrics-listen", err)
	}
}
