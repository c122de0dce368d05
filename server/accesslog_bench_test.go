package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkAccessLog measures logRequest for one redirect that counted
// as a download, with the record encoded by slog.JSONHandler and by
// Config.JSONAccessLog, and written to io.Discard.
func BenchmarkAccessLog(b *testing.B) {
	benchmarks := []struct {
		name      string
		accessLog io.Writer
	}{
		{"slog", nil},
		{"json", io.Discard},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			srv := newFixtureServer(b, Config{
				Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
				JSONAccessLog: bm.accessLog})
			r := httptest.NewRequest(http.MethodGet,
				"/acme/tiny/resolve/main/model-00001-of-00002.safetensors",
				nil)
			info := &requestInfo{id: "0123456789abcdef01234567",
				model: testModel, client: "ip:127.0.0.1", file: true}
			r = r.WithContext(context.WithValue(r.Context(), infoKey{},
				info))
			sw := &statusWriter{status: http.StatusFound}
			const route = "/{org}/{name}/resolve/{rev}/*"

			b.ReportAllocs()
			for b.Loop() {
				srv.logRequest(r, info, route, sw, time.Now(),
					1234567*time.Nanosecond, true)
			}
		})
	}
}
