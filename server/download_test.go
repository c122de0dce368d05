package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWholeDownload(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"no range", nil, true},
		{"empty value", []string{""}, true},
		{"blank value", []string{" \t"}, true},
		{"open from zero", []string{"bytes=0-"}, true},
		{"bounded from zero", []string{"bytes=0-999"}, true},
		{"probe", []string{"bytes=0-0"}, false},
		{"probe zero padded", []string{"bytes=00-000"}, false},
		{"zero padded", []string{"bytes=000-10"}, true},
		{"continuation", []string{"bytes=1000-"}, false},
		{"middle", []string{"bytes=500-999"}, false},
		{"suffix", []string{"bytes=-500"}, false},
		{"suffix zero", []string{"bytes=-0"}, false},
		{"two ranges", []string{"bytes=0-10,20-30"}, false},
		{"two ranges spaced", []string{"bytes=0-10, 20-30"}, false},
		{"probe and more", []string{"bytes=0-0,5-9"}, false},
		{"empty list element", []string{"bytes=0-10,"}, true},
		{"empty list elements", []string{"bytes=, ,0-"}, true},
		{"only commas", []string{"bytes=,"}, false},
		{"whitespace", []string{" bytes = 0 - 999 "}, true},
		{"whitespace probe", []string{"bytes= 0 - 0"}, false},
		{"uppercase unit", []string{"Bytes=0-"}, true},
		{"shouting unit", []string{"BYTES=0-99"}, true},
		{"uppercase continuation", []string{"Bytes=99-"}, false},
		{"other unit", []string{"items=0-"}, false},
		{"no unit", []string{"0-100"}, false},
		{"no equals", []string{"bytes 0-100"}, false},
		{"empty set", []string{"bytes="}, false},
		{"no dash", []string{"bytes=0"}, false},
		{"letters", []string{"bytes=0-abc"}, false},
		{"sign", []string{"bytes=+0-"}, false},
		{"negative end", []string{"bytes=0--5"}, false},
		{"huge end", []string{"bytes=0-99999999999999999999999"}, true},
		{"two headers", []string{"bytes=0-", "bytes=0-"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wholeDownload(tt.values); got != tt.want {
				t.Errorf("wholeDownload(%q) = %v, want %v",
					tt.values, got, tt.want)
			}
		})
	}
}

func TestCountsAsDownload(t *testing.T) {
	tests := []struct {
		method string
		rng    string
		status int
		want   bool
	}{
		{"GET", "", http.StatusFound, true},
		{"GET", "", http.StatusTemporaryRedirect, true},
		{"GET", "", http.StatusOK, true},
		{"GET", "bytes=0-", http.StatusOK, true},
		{"GET", "bytes=0-0", http.StatusFound, false},
		{"GET", "bytes=1-", http.StatusFound, false},
		{"GET", "", http.StatusNotModified, false},
		{"GET", "", http.StatusNotFound, false},
		{"GET", "", http.StatusTooManyRequests, false},
		{"GET", "", http.StatusServiceUnavailable, false},
		{"GET", "", http.StatusInternalServerError, false},
		{"HEAD", "", http.StatusOK, false},
		{"POST", "", http.StatusFound, false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "/a/b/resolve/main/f", nil)
		if tt.rng != "" {
			r.Header.Set("Range", tt.rng)
		}
		got := countsAsDownload(r, tt.status)
		if got != tt.want {
			t.Errorf("countsAsDownload(%s Range %q, %d) = %v, want %v",
				tt.method, tt.rng, tt.status, got, tt.want)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	tests := map[string]string{
		"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT",
		"PATCH": "PATCH", "DELETE": "DELETE", "OPTIONS": "OPTIONS",
		"CONNECT": "CONNECT", "TRACE": "TRACE",
		"get": "other", "BREW": "other", "PROPFIND": "other", "": "other",
	}
	for in, want := range tests {
		if got := methodLabel(in); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
