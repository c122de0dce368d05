package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelgate/modelgate/server"
)

// benchCatalog is a catalog of 1,000 models: 999 of 20 files each and
// "org-000/big" with 1,000 files, a full page of the file table.
func benchCatalog() []pageObject {
	var objs []pageObject
	for i := range 999 {
		for j := range 20 {
			objs = append(objs, pageObject{fmt.Sprintf(
				"org-%03d/model-%04d/shard-%02d.safetensors", i%100, i, j),
				int64(i*j) << 20})
		}
	}
	for j := range 1000 {
		objs = append(objs, pageObject{fmt.Sprintf(
			"org-000/big/dir/shard-%05d-of-01000.safetensors", j), 1 << 30})
	}
	return objs
}

// benchPage measures the rendering of target, whole requests through the
// router with the rate limiter off.
func benchPage(b *testing.B, srv http.Handler, target string) {
	b.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("Accept", browserAccept)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: status %d, want 200", target, rec.Code)
		}
	}
}

func BenchmarkIndexPage(b *testing.B) {
	srv := newPageServer(b, server.Config{}, benchCatalog())
	tests := []struct{ name, target string }{
		{"first-page", "/"},        // models 1 to 100 of 1,000
		{"last-page", "/?page=10"}, // models 901 to 1,000
		{"filter", "/?q=model-09"}, // scans every model id
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) { benchPage(b, srv, tt.target) })
	}
}

func BenchmarkModelPage(b *testing.B) {
	srv := newPageServer(b, server.Config{}, benchCatalog())
	tests := []struct{ name, target string }{
		{"20-files", "/org-042/model-0542"},
		{"1000-files", "/org-000/big"},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) { benchPage(b, srv, tt.target) })
	}
}
