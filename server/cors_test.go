package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/server"
)

func TestParseOrigins(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr bool
	}{
		{"*", []string{"*"}, false},
		{" * ", []string{"*"}, false},
		{"https://App.Example.com", []string{"https://app.example.com"},
			false},
		{"https://a.example, http://localhost:3000/",
			[]string{"https://a.example", "http://localhost:3000"}, false},
		{"", nil, true},
		{" , ", nil, true},
		{"*,https://a.example", nil, true},
		{"a.example", nil, true},
		{"ftp://a.example", nil, true},
		{"https://a.example/path", nil, true},
		{"https://a.example?x=1", nil, true},
		{"https://user@a.example", nil, true},
		{"https://", nil, true},
	}
	for _, tt := range tests {
		got, err := server.ParseOrigins(tt.list)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseOrigins(%q) error = %v, want error %v",
				tt.list, err, tt.wantErr)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("ParseOrigins(%q) = %q, want %q", tt.list, got,
				tt.want)
		}
	}
}

func TestConfigRejectsBadOrigin(t *testing.T) {
	cfg := server.Config{CORSOrigins: []string{"not an origin"}}
	if err := cfg.Validate(); err == nil {
		t.Errorf("Config{CORSOrigins: %q}.Validate() = nil, want error",
			cfg.CORSOrigins)
	}
}

// corsResolve is a resolve URL of pageBucket.
const corsResolve = "/acme/llama-tiny/resolve/main/config.json"

func TestCORSHeaders(t *testing.T) {
	list := []string{"https://app.example", "http://127.0.0.1:3000"}
	tests := []struct {
		name     string
		origins  []string
		method   string
		target   string
		origin   string
		wantACAO string
		wantVary bool
	}{
		{"any origin, API", nil, "GET", "/api/models",
			"https://x.example", "*", false},
		{"any origin, no Origin", nil, "GET", "/api/models", "", "*",
			false},
		{"any origin, resolve", nil, "GET", corsResolve,
			"https://x.example", "*", false},
		{"any origin, HEAD", nil, "HEAD", corsResolve,
			"https://x.example", "*", false},
		{"any origin, raw", nil, "GET",
			"/acme/llama-tiny/raw/main/config.json",
			"https://x.example", "*", false},
		{"any origin, error", nil, "GET", "/api/models/acme/missing",
			"https://x.example", "*", false},
		{"listed origin", list, "GET", "/api/models",
			"https://app.example", "https://app.example", true},
		{"second listed origin", list, "GET", corsResolve,
			"http://127.0.0.1:3000", "http://127.0.0.1:3000", true},
		{"unlisted origin", list, "GET", "/api/models",
			"https://evil.example", "", true},
		{"list, no Origin", list, "GET", "/api/models", "", "", true},
		{"any origin, resolve, no Origin", nil, "GET", corsResolve, "",
			"", false},
		{"list, resolve, no Origin", list, "GET", corsResolve, "", "",
			false},
		{"any origin, raw, no Origin", nil, "HEAD",
			"/acme/llama-tiny/raw/main/config.json", "", "", false},
		{"page", nil, "GET", "/acme/llama-tiny", "https://x.example",
			"", false},
		{"index page", nil, "GET", "/", "https://x.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newPageServer(t,
				server.Config{CORSOrigins: tt.origins}, pageBucket)
			res := requestPage(t, srv, tt.method, tt.target,
				"Origin", tt.origin)
			h := res.header
			if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Errorf("%s %s from %q: Allow-Origin %q, want %q",
					tt.method, tt.target, tt.origin, got, tt.wantACAO)
			}
			vary := slices.Contains(h.Values("Vary"), "Origin")
			if vary != tt.wantVary {
				t.Errorf("%s %s: Vary: Origin is %v, want %v", tt.method,
					tt.target, vary, tt.wantVary)
			}
			if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
				t.Errorf("%s %s: Allow-Credentials %q, want none",
					tt.method, tt.target, got)
			}
			expose := h.Get("Access-Control-Expose-Headers")
			if tt.wantACAO == "" {
				if expose != "" {
					t.Errorf("%s %s: exposes %q without an allowed "+
						"origin", tt.method, tt.target, expose)
				}
				return
			}
			for _, name := range []string{"X-Repo-Commit",
				"X-Linked-Etag", "X-Linked-Size", "X-Error-Code",
				"X-Error-Message", "ETag", "Content-Range", "Link",
				"X-Url-Expires", "Repr-Digest", "RateLimit-Limit",
				"RateLimit-Remaining", "RateLimit-Reset",
				"RateLimit-Policy"} {
				if !strings.Contains(expose, name) {
					t.Errorf("%s %s: Expose-Headers %q lacks %s",
						tt.method, tt.target, expose, name)
				}
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	targets := []string{
		"/api/models",
		"/api/models/acme/llama-tiny",
		"/api/models/acme/llama-tiny/revision/main",
		"/api/models/acme/llama-tiny/tree/main",
		"/api/models/acme/llama-tiny/paths-info/main",
		corsResolve,
		"/acme/llama-tiny/resolve/main/sub%20dir/na%C3%AFve%20%231%3F.txt",
		"/acme/llama-tiny/raw/main/config.json",
	}
	lim := &recordingLimiter{deny: true}
	srv := newPageServer(t, server.Config{Limiter: lim}, pageBucket)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			res := requestPage(t, srv, "OPTIONS", target,
				"Origin", "https://app.example",
				"Access-Control-Request-Method", "GET",
				"Access-Control-Request-Headers", "range")
			if res.status != http.StatusNoContent {
				t.Fatalf("OPTIONS %s: status %d, want 204", target,
					res.status)
			}
			wants := map[string]string{
				"Access-Control-Allow-Origin":  "*",
				"Access-Control-Allow-Methods": "GET, HEAD, POST",
				"Access-Control-Max-Age":       "600",
			}
			checkHeaders(t, "OPTIONS "+target, res.header, wants)
			allow := res.header.Get("Access-Control-Allow-Headers")
			if !strings.Contains(allow, "Range") {
				t.Errorf("OPTIONS %s: Allow-Headers %q lacks Range",
					target, allow)
			}
		})
	}
	if calls := lim.calls(); len(calls) != 0 {
		t.Errorf("preflights spent %d rate-limit tokens, want 0",
			len(calls))
	}
}

func TestCORSPreflightUnlistedOrigin(t *testing.T) {
	srv := newPageServer(t,
		server.Config{CORSOrigins: []string{"https://app.example"}},
		pageBucket)
	res := requestPage(t, srv, "OPTIONS", corsResolve,
		"Origin", "https://evil.example",
		"Access-Control-Request-Method", "GET")
	if res.status != http.StatusNoContent {
		t.Fatalf("OPTIONS: status %d, want 204", res.status)
	}
	for _, name := range []string{"Access-Control-Allow-Origin",
		"Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
		if got := res.header.Get(name); got != "" {
			t.Errorf("OPTIONS from an unlisted origin: %s %q, want none",
				name, got)
		}
	}
}

func TestCORSOnRateLimitedResponse(t *testing.T) {
	lim := &recordingLimiter{deny: true}
	srv := newPageServer(t, server.Config{Limiter: lim}, pageBucket)
	res := requestPage(t, srv, "GET", corsResolve,
		"Origin", "https://app.example")
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("GET: status %d, want 429", res.status)
	}
	if got := res.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("429: Allow-Origin %q, want *", got)
	}
	if got := res.header.Get("X-Error-Code"); got != "RateLimited" {
		t.Errorf("429: X-Error-Code %q, want RateLimited", got)
	}
}
