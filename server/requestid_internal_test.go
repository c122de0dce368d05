package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRequestIDControlCharacters sends X-Request-Id values with control
// characters straight to the handler, as a server that does not check
// header values, or a proxy that decodes them, could pass them on.
func TestRequestIDControlCharacters(t *testing.T) {
	srv := newFixtureServer(t, Config{})
	tests := []struct{ name, id string }{
		{"CRLF header injection", "abc\r\nSet-Cookie: x=1"},
		{"LF", "abc\ndef"},
		{"NUL", "abc\x00def"},
		{"ESC", "abc\x1b[31mdef"},
		{"DEL", "abc\x7fdef"},
		{"tab", "abc\tdef"},
		{"C1 next line", "abc\u0085def"},
		{"line separator", "abc\u2028def"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
			req.Header["X-Request-Id"] = []string{tt.id}
			rec := serve(srv, req)
			got := rec.Header().Get("X-Request-Id")
			if got == tt.id || !validRequestID(got) {
				t.Errorf("X-Request-Id for %q = %q, want a new valid id",
					tt.id, got)
			}
			if strings.ContainsAny(got, "\r\n\x00") {
				t.Errorf("X-Request-Id %q contains a control character",
					got)
			}
		})
	}
}
