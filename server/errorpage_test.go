package server_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/server"
)

func TestErrorNegotiation(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		accept   string
		deny     bool
		status   int
		code     string
		wantHTML bool
	}{
		{"browser 404", "/acme/missing/resolve/main/x", browserAccept,
			false, 404, "RepoNotFound", true},
		{"JSON 404", "/acme/missing/resolve/main/x", "application/json",
			false, 404, "RepoNotFound", false},
		{"no Accept 404", "/acme/missing/resolve/main/x", "", false, 404,
			"RepoNotFound", false},
		{"any 404", "/acme/llama-tiny/resolve/main/nope", "*/*", false,
			404, "EntryNotFound", false},
		{"JS client 404", "/acme/llama-tiny/resolve/main/nope",
			"application/vnd.xet-fileinfo+json, */*", false, 404,
			"EntryNotFound", false},
		{"browser 429", corsResolve, browserAccept, true, 429,
			"RateLimited", true},
		{"JSON 429", corsResolve, "application/json", true, 429,
			"RateLimited", false},
		{"browser 400", "/?page=0", browserAccept, false, 400,
			"BadRequest", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := &recordingLimiter{deny: tt.deny}
			srv := newPageServer(t, server.Config{Limiter: lim},
				pageBucket)
			res := requestPage(t, srv, "GET", tt.target, "Accept",
				tt.accept)
			if res.status != tt.status {
				t.Fatalf("GET %s: status %d, want %d", tt.target,
					res.status, tt.status)
			}
			if got := res.header.Get("X-Error-Code"); got != tt.code {
				t.Errorf("GET %s: X-Error-Code %q, want %q", tt.target,
					got, tt.code)
			}
			if res.header.Get("X-Error-Message") == "" {
				t.Errorf("GET %s: no X-Error-Message", tt.target)
			}
			ctype := res.header.Get("Content-Type")
			if tt.wantHTML {
				checkHTMLError(t, res, tt.status)
				return
			}
			if ctype != "application/json" {
				t.Errorf("GET %s: Content-Type %q, want application/json",
					tt.target, ctype)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(res.body), &body); err != nil ||
				body["error"] == "" {
				t.Errorf("GET %s: body %q is not a JSON error", tt.target,
					res.body)
			}
		})
	}
}

// checkHTMLError checks that res is the HTML error page for status.
func checkHTMLError(tb testing.TB, res pageResponse, status int) {
	tb.Helper()
	if got := res.header.Get("Content-Type"); got !=
		"text/html; charset=utf-8" {
		tb.Errorf("Content-Type %q, want text/html", got)
	}
	if res.header.Get("Content-Security-Policy") == "" {
		tb.Errorf("HTML error page has no Content-Security-Policy")
	}
	heading := "<h1>" + strconv.Itoa(status) + " " +
		http.StatusText(status) + "</h1>"
	if !strings.Contains(res.body, "<!doctype html>") ||
		!strings.Contains(res.body, heading) {
		tb.Errorf("body is not the HTML error page for %d:\n%s", status,
			res.body)
	}
	if status == http.StatusTooManyRequests &&
		!strings.Contains(res.body, "Try again in 2 seconds") {
		tb.Errorf("429 page does not say when to retry:\n%s", res.body)
	}
}

func TestErrorPageHEADHasNoBody(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "HEAD", "/acme/missing/resolve/main/x",
		"Accept", browserAccept)
	if res.status != http.StatusNotFound {
		t.Fatalf("HEAD: status %d, want 404", res.status)
	}
	if res.body != "" {
		t.Errorf("HEAD: body %q, want empty", res.body)
	}
}
