package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/server"
)

// methodServer starts a gateway over pageBucket with metrics on the main
// listener and a limiter that records its calls.
func methodServer(tb testing.TB) (string, *recordingLimiter) {
	tb.Helper()
	metrics, err := server.NewMetrics(server.MetricsConfig{
		Registry: prometheus.NewRegistry(), OnMainListener: true})
	if err != nil {
		tb.Fatalf("NewMetrics: %v", err)
	}
	lim := &recordingLimiter{}
	srv := newPageServer(tb, server.Config{Metrics: metrics,
		Limiter: lim}, pageBucket)
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return ts.URL, lim
}

// sendRequest sends one request without following redirects and returns
// the response with its body read.
func sendRequest(tb testing.TB, method, target string,
	headers ...string,
) pageResponse {
	tb.Helper()
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request,
		[]*http.Request,
	) error {
		return http.ErrUseLastResponse
	}}
	res, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return pageResponse{status: res.StatusCode, header: res.Header,
		body: string(body)}
}

func TestHeadAnswersLikeGet(t *testing.T) {
	base, lim := methodServer(t)
	tests := []struct {
		path    string
		limited bool
	}{
		{"/", true},
		{"/acme/llama-tiny", true},
		{"/acme/no-such-model", true},
		{"/api/models", true},
		{"/api/models/acme/llama-tiny", true},
		{"/api/models/acme/llama-tiny/revision/main", true},
		{"/api/models/acme/llama-tiny/tree/main", true},
		{"/api/models/acme/llama-tiny/tree/main/sub%20dir", true},
		{"/acme/llama-tiny/resolve/main/config.json", true},
		{"/acme/llama-tiny/raw/main/config.json", true},
		{"/healthz", false},
		{"/readyz", false},
		{"/metrics", false},
		{"/-/static/style.css", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			get := sendRequest(t, http.MethodGet, base+tt.path)
			before := len(lim.calls())
			head := sendRequest(t, http.MethodHead, base+tt.path)
			spent := len(lim.calls()) - before

			want := get.status
			if want == http.StatusFound {
				// HEAD of a download returns 200 with the metadata,
				// because the signed URL is valid for GET only.
				want = http.StatusOK
			}
			if head.status != want {
				t.Errorf("HEAD %s: status %d, want %d", tt.path,
					head.status, want)
			}
			if head.body != "" {
				t.Errorf("HEAD %s: body %q, want empty", tt.path,
					head.body)
			}
			if got, want := head.header.Get("Content-Type"),
				get.header.Get("Content-Type"); got != want &&
				get.status != http.StatusFound {
				t.Errorf("HEAD %s: Content-Type %q, want %q", tt.path,
					got, want)
			}
			if tt.limited && spent != 1 {
				t.Errorf("HEAD %s spent %d rate-limit tokens, want 1",
					tt.path, spent)
			}
			if !tt.limited && spent != 0 {
				t.Errorf("HEAD %s spent %d rate-limit tokens, want 0",
					tt.path, spent)
			}
		})
	}
}

func TestAllowAgreesWithOptions(t *testing.T) {
	base, _ := methodServer(t)
	tests := []struct {
		path, rejected, want string
	}{
		{corsResolve, http.MethodPost, "GET, HEAD, OPTIONS"},
		{"/acme/llama-tiny/raw/main/config.json", http.MethodPost,
			"GET, HEAD, OPTIONS"},
		{"/api/models", http.MethodPost, "GET, HEAD, OPTIONS"},
		{"/api/models/acme/llama-tiny/tree/main", http.MethodDelete,
			"GET, HEAD, OPTIONS"},
		{"/api/models/acme/llama-tiny/paths-info/main", http.MethodGet,
			"POST, OPTIONS"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			opts := sendRequest(t, http.MethodOptions, base+tt.path)
			if opts.status != http.StatusNoContent {
				t.Errorf("OPTIONS %s: status %d, want 204", tt.path,
					opts.status)
			}
			if got := opts.header.Get("Allow"); got != tt.want {
				t.Errorf("OPTIONS %s: Allow %q, want %q", tt.path, got,
					tt.want)
			}
			res := sendRequest(t, tt.rejected, base+tt.path)
			if res.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", tt.rejected,
					tt.path, res.status)
			}
			if got := res.header.Get("Allow"); got != tt.want {
				t.Errorf("%s %s: Allow %q, want %q", tt.rejected,
					tt.path, got, tt.want)
			}
		})
	}
}

// TestUnknownMethods sends methods that no route registers. A path that
// a route serves gets 405 with its Allow list; a path that none
// serves gets 404 without Allow, as PUT there does.
func TestUnknownMethods(t *testing.T) {
	base, _ := methodServer(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PROPFIND", corsResolve, http.StatusMethodNotAllowed,
			"GET, HEAD, OPTIONS"},
		{"BREW", corsResolve, http.StatusMethodNotAllowed,
			"GET, HEAD, OPTIONS"},
		{"PROPFIND", "/nope", http.StatusNotFound, ""},
		{"PROPFIND", "/a/b/c/d", http.StatusNotFound, ""},
		{"PROPFIND", "/api/nope", http.StatusNotFound, ""},
		{http.MethodPut, "/nope", http.StatusNotFound, ""},
		{http.MethodPut, "/api/nope", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := sendRequest(t, tt.method, base+tt.path)
			if res.status != tt.status {
				t.Errorf("status %d, want %d", res.status, tt.status)
			}
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if tt.status == http.StatusNotFound {
				if got := res.header.Get("X-Error-Code"); got != "NotFound" {
					t.Errorf("X-Error-Code %q, want NotFound", got)
				}
			}
		})
	}
}

func TestOptionsUnknownAPIPath(t *testing.T) {
	base, _ := methodServer(t)
	res := sendRequest(t, http.MethodOptions, base+"/api/no-such-thing")
	if res.status != http.StatusNotFound {
		t.Errorf("OPTIONS /api/no-such-thing: status %d, want 404",
			res.status)
	}
}

func TestInvalidQueryString(t *testing.T) {
	base, _ := methodServer(t)
	tests := []string{
		"/api/models?cursor=%%%",
		"/api/models?search=llama&limit=%zz",
		"/api/models/acme/llama-tiny/tree/main?recursive=%",
		"/acme/llama-tiny/resolve/main/config.json?redirect=%zz",
		"/?q=%zz",
		"/acme/llama-tiny?page=%",
		"/-/static/style.css?v=%zz",
	}
	for _, target := range tests {
		t.Run(target, func(t *testing.T) {
			res := sendRequest(t, http.MethodGet, base+target)
			if res.status != http.StatusBadRequest {
				t.Errorf("GET %s: status %d, want 400", target,
					res.status)
			}
			msg := res.header.Get("X-Error-Message")
			for _, want := range []string{"invalid query string",
				"percent-encode '%' as %25"} {
				if !strings.Contains(msg, want) {
					t.Errorf("GET %s: X-Error-Message %q lacks %q",
						target, msg, want)
				}
			}
			if !strings.Contains(res.body, "invalid query string") {
				t.Errorf("GET %s: body %q lacks the reason", target,
					res.body)
			}
		})
	}
}

func TestInvalidQueryStringPage(t *testing.T) {
	base, _ := methodServer(t)
	res := sendRequest(t, http.MethodGet, base+"/?q=%zz",
		"Accept", browserAccept)
	if res.status != http.StatusBadRequest {
		t.Errorf("GET /?q=%%zz: status %d, want 400", res.status)
	}
	ct := res.header.Get("Content-Type")
	if !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /?q=%%zz: Content-Type %q, want text/html", ct)
	}
	if !strings.Contains(res.body, "invalid query string") {
		t.Errorf("GET /?q=%%zz: page lacks the reason")
	}
}

func TestErrorBodyCutsLongNames(t *testing.T) {
	base, _ := methodServer(t)
	tests := []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"revision", http.MethodGet, "/acme/llama-tiny/resolve/" +
			strings.Repeat("r", 5000) + "/config.json",
			http.StatusNotFound, "RevisionNotFound"},
		{"model", http.MethodGet, "/acme/" + strings.Repeat("m", 900) +
			"/resolve/main/config.json", http.StatusNotFound,
			"RepoNotFound"},
		{"invalid revision", http.MethodGet, "/acme/llama-tiny/resolve/" +
			strings.Repeat("%01", 5000) + "/config.json",
			http.StatusBadRequest, "BadRequest"},
		{"invalid segment", http.MethodGet, "/" +
			strings.Repeat("%01", 5000) + "/m/resolve/main/x",
			http.StatusBadRequest, "BadRequest"},
		{"no route", "BREW", "/nope" + strings.Repeat("a", 30000),
			http.StatusNotFound, "NotFound"},
		{"unknown API endpoint", http.MethodGet, "/api/nope" +
			strings.Repeat("a", 30000), http.StatusNotFound, "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sendRequest(t, tt.method, base+tt.path)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d", res.status, tt.status)
			}
			if got := res.header.Get("X-Error-Code"); got != tt.code {
				t.Errorf("X-Error-Code %q, want %s", got, tt.code)
			}
			if len(res.body) > 1500 {
				t.Errorf("body is %d bytes, want at most 1500",
					len(res.body))
			}
			if !strings.Contains(res.body, `...`) {
				t.Errorf("body %.200q does not mark the cut name",
					res.body)
			}
		})
	}
}

func TestTreeKeyLimitGivesLength(t *testing.T) {
	base, _ := methodServer(t)
	res := sendRequest(t, http.MethodGet,
		base+"/api/models/acme/llama-tiny/tree/main/"+
			strings.Repeat("p", 1100))
	if res.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", res.status)
	}
	// "acme/llama-tiny" is 15 bytes, then a slash and the path.
	want := "model name and path are 1116 bytes together"
	if got := res.header.Get("X-Error-Message"); !strings.Contains(got,
		want) {
		t.Errorf("X-Error-Message %q, want it to contain %q", got, want)
	}
}
