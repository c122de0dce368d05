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

func TestRequestIDsDistinct(t *testing.T) {
	g := newRequestIDs()
	seen := make(map[string]bool)
	for range 1000 {
		id := g.next()
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("request id %q is not 24 lowercase hex digits", id)
		}
		if seen[id] {
			t.Fatalf("request id %q repeated", id)
		}
		seen[id] = true
	}
}

func TestRequestIDsPrefixPerGenerator(t *testing.T) {
	a, b := newRequestIDs().next(), newRequestIDs().next()
	if a[:12] == b[:12] {
		t.Errorf("two generators share the prefix of %q and %q", a, b)
	}
	if a[12:] != b[12:] {
		t.Errorf("first counters differ: %q and %q", a, b)
	}
}
