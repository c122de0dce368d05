package server

import (
	"net/http"
	"slices"
	"testing"
)

func TestSetHeadersKeepsValuesApart(t *testing.T) {
	h := make(http.Header)
	setHeaders(h, "Etag", `"abc"`, "Cache-Control", "no-store",
		"X-Linked-Size", "42")
	h.Add("Etag", `"def"`)

	tests := []struct {
		name string
		want []string
	}{
		{"Etag", []string{`"abc"`, `"def"`}},
		{"Cache-Control", []string{"no-store"}},
		{"X-Linked-Size", []string{"42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.Values(tt.name); !slices.Equal(got, tt.want) {
				t.Errorf("Values(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}
