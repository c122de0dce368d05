package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/demo"
)

// hostileRequest is one request that a client on the internet may send.
type hostileRequest struct {
	name    string
	method  string
	target  string   // request target, sent byte for byte
	headers []string // extra header lines
	status  int      // the status wanted; 0 means any 4xx
}

// checkJSONError fails tb unless r is an error response of writeError:
// status want (any 4xx when want is 0), JSON with an "error" message,
// and no Location.
func checkJSONError(tb testing.TB, req string, r rawResponse, want int) {
	tb.Helper()
	if want != 0 && r.StatusCode != want {
		tb.Errorf("%s: status %d, want %d; body %q", req, r.StatusCode,
			want, r.Body)
	}
	if r.StatusCode < 400 || r.StatusCode > 499 {
		tb.Errorf("%s: status %d, want 4xx; body %q", req, r.StatusCode,
			r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "" {
		tb.Errorf("%s: Location %q, want none", req, loc)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s: Content-Type %q, want application/json", req, ct)
	}
	if r.Request.Method == http.MethodHead {
		return
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil ||
		e.Error == "" {
		tb.Errorf("%s: body %q is not a JSON error: %v", req, r.Body, err)
	}
}

// hostilePaths are file paths, escaped as a client could send them,
// that must not reach a file: traversal in every spelling, encoded
// separators, invalid UTF-8, NUL and other control bytes, and keys over
// S3's 1,024-byte limit.
var hostilePaths = []struct{ name, path string }{
	{"dot-dot", "../config.json"},
	{"dot-dot inside", "tokenizer/../config.json"},
	{"dot", "./config.json"},
	{"encoded dot-dot", "%2e%2e/config.json"},
	{"encoded dot-dot upper", "%2E%2E/config.json"},
	{"half-encoded dot-dot", ".%2e/config.json"},
	{"half-encoded dot-dot first", "%2e./config.json"},
	{"encoded dot", "%2e/config.json"},
	{"dot-dot encoded backslash", "..%5cconfig.json"},
	{"dot-dot encoded backslash upper", "..%5Cconfig.json"},
	{"dot-dot backslash", `..\config.json`},
	{"backslash inside", `tokenizer\vocab.txt`},
	{"backslash traversal", `tokenizer\..\config.json`},
	{"encoded slash", "tokenizer%2Fvocab.txt"},
	{"encoded slash traversal", "..%2F..%2Fconfig.json"},
	{"encoded slash lower", "tokenizer%2fvocab.txt"},
	{"double-encoded dot-dot", "%252e%252e/config.json"},
	{"double-encoded slash", "tokenizer%252Fvocab.txt"},
	{"double-encoded backslash", "..%255cconfig.json"},
	{"overlong UTF-8 dot-dot", "%c0%ae%c0%ae/config.json"},
	{"overlong UTF-8 slash", "..%c0%afconfig.json"},
	{"overlong UTF-8 three bytes", "%e0%80%ae%e0%80%ae/config.json"},
	{"fullwidth dots encoded", "%EF%BC%8E%EF%BC%8E/config.json"},
	{"fullwidth dots raw", "．．/config.json"},
	{"fullwidth solidus", "tokenizer%EF%BC%8Fvocab.txt"},
	{"NUL", "config.json%00"},
	{"NUL alone", "%00"},
	{"NUL then traversal", "%00/../config.json"},
	{"newline", "config%0A.json"},
	{"carriage return", "config%0D.json"},
	{"DEL", "config%7F.json"},
	{"invalid UTF-8", "%ff.json"},
	{"Latin-1 byte", "caf%e9.txt"},
	{"truncated UTF-8", "%e2%82"},
	{"UTF-16 surrogate", "%ed%a0%80.json"},
	{"empty segment", "tokenizer//vocab.txt"},
	{"key over 1024 bytes", strings.Repeat("a", 1100)},
	{"key over 1024 bytes in folders", strings.Repeat("abcdefgh/", 120) +
		"x"},
	{"key over 1024 bytes encoded", strings.Repeat("%C3%A9", 520)},
}

func TestHostileFilePaths(t *testing.T) {
	g := startDemoGateway(t)
	routes := []struct{ name, method, prefix string }{
		{"resolve", http.MethodGet, "/" + demo.Model + "/resolve/main/"},
		{"resolve HEAD", http.MethodHead, "/" + demo.Model +
			"/resolve/main/"},
		{"raw", http.MethodGet, "/" + demo.Model + "/raw/main/"},
		{"tree", http.MethodGet, "/api/models/" + demo.Model +
			"/tree/main/"},
	}
	for _, rt := range routes {
		for _, p := range hostilePaths {
			t.Run(rt.name+"/"+p.name, func(t *testing.T) {
				target := rt.prefix + p.path
				r := g.get(t, rt.method, target)
				checkJSONError(t, rt.method+" "+target, r, 0)
			})
		}
	}
}

func TestHostileRequests(t *testing.T) {
	g := startDemoGateway(t)
	const file = "/resolve/main/config.json"
	model := "/" + demo.Model
	api := "/api/models"
	many := func(param string, n int) string {
		return strings.TrimSuffix(strings.Repeat(param+"&", n), "&")
	}
	tests := []hostileRequest{
		// Traversal and invalid bytes in the model id and revision.
		{"dot-dot org", "GET", "/../tiny-model" + file, nil, 0},
		{"encoded dot-dot org", "GET", "/%2e%2e/tiny-model" + file, nil, 0},
		{"encoded slash in org", "GET", "/demo%2Ftiny-model/x" + file,
			nil, 0},
		{"dot-dot name", "GET", "/demo/.." + file, nil, 0},
		{"backslash name", "GET", "/demo/..%5ctiny-model" + file, nil, 0},
		{"NUL in name", "GET", "/demo/tiny-model%00" + file, nil, 0},
		{"invalid UTF-8 org", "GET", "/%c0%ae/tiny-model" + file, nil, 0},
		{"encoded slash revision", "GET", model +
			"/resolve/..%2F..%2Fmain/config.json", nil, 0},
		{"NUL revision", "GET", model + "/resolve/main%00/config.json",
			nil, 0},
		{"newline revision", "GET", model + "/resolve/main%0d%0aX:y/" +
			"config.json", nil, 0},
		{"invalid UTF-8 revision", "GET", model +
			"/resolve/%ff/config.json", nil, 0},
		{"long revision", "GET", model + "/resolve/" +
			strings.Repeat("r", 2000) + "/config.json", nil, 0},
		{"traversal in model info", "GET", api + "/demo/..%2f..", nil, 0},
		{"traversal in paths-info", "POST", api +
			"/demo/%2e%2e/paths-info/main", []string{"Content-Length: 0"},
			0},

		// Pagination cursors and limits.
		{"cursor not base64", "GET", api + "?cursor=!!!", nil, 400},
		{"cursor escaped garbage", "GET", api + "?cursor=%ff%00", nil, 400},
		{"cursor invalid UTF-8", "GET", api + "?cursor=_w", nil, 400},
		{"cursor padded", "GET", api + "?cursor=ZGVtbw==", nil, 400},
		{"cursor too long", "GET", api + "?cursor=" +
			strings.Repeat("QUFB", 500), nil, 400},
		{"cursor of no tree entry", "GET", api + model +
			"/tree/main?cursor=bm9wZQ", nil, 400},
		{"tree cursor garbage", "GET", api + model + "/tree/main?cursor=*",
			nil, 400},
		{"limit negative", "GET", api + "?limit=-1", nil, 400},
		{"limit not a number", "GET", api + "?limit=ten", nil, 400},
		{"limit overflow", "GET", api + "?limit=99999999999999999999999",
			nil, 400},
		{"tree flag garbage", "GET", api + model + "/tree/main?recursive=" +
			"%00", nil, 400},
		{"thousands of bad limits", "GET", api + "?" +
			many("limit=0", 5000), nil, 400},
		{"thousands of cursors", "GET", api + "?" + many("cursor=*", 5000),
			nil, 400},

		// Methods that no route allows.
		{"PUT file", "PUT", model + file, []string{"Content-Length: 0"},
			405},
		{"DELETE file", "DELETE", model + file, nil, 405},
		{"PATCH file", "PATCH", model + file, []string{"Content-Length: 0"},
			405},
		{"TRACE file", "TRACE", model + file, nil, 405},
		{"CONNECT file", "CONNECT", model + file, nil, 405},
		{"PROPFIND file", "PROPFIND", model + file, nil, 405},
		{"token method file", "XYZZY", model + file, nil, 405},
		{"DELETE model info", "DELETE", api + model, nil, 405},
		{"PUT model list", "PUT", api, []string{"Content-Length: 0"}, 405},
		{"TRACE tree", "TRACE", api + model + "/tree/main", nil, 405},
		{"GET paths-info", "GET", api + model + "/paths-info/main", nil,
			405},
		{"DELETE healthz", "DELETE", "/healthz", nil, 405},
		{"PROPFIND readyz", "PROPFIND", "/readyz", nil, 405},
		{"POST resolve", "POST", model + file, []string{"Content-Length: 0"},
			405},
		{"QUERY tree", "QUERY", api + model + "/tree/main", nil, 405},
		{"OPTIONS-like token", "OPTIONSX", "/healthz", nil, 405},
		{"long token method", strings.Repeat("M", 5000), model + file, nil,
			405},

		// Paths that only a folder listing accepts.
		{"resolve trailing slash", "GET", model + "/resolve/main/tokenizer/",
			nil, 400},
		{"resolve folder", "GET", model + "/resolve/main/tokenizer", nil,
			404},
		{"resolve no file", "GET", model + "/resolve/main/", nil, 0},

		// Bodies.
		{"paths-info body over 1 MiB", "POST", api + model +
			"/paths-info/main", []string{"Content-Type: application/json",
			fmt.Sprintf("Content-Length: %d", 2<<20)}, 413},
		{"paths-info body not JSON", "POST", api + model +
			"/paths-info/main", []string{"Content-Type: application/json",
			"Content-Length: 0"}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.get(t, tt.method, tt.target, tt.headers...)
			req := truncateTarget(tt.method) + " " + truncateTarget(tt.target)
			checkJSONError(t, req, r, tt.status)
			if r.StatusCode == http.StatusMethodNotAllowed {
				checkAllow(t, req, r)
			}
		})
	}
}

// truncateTarget shortens a request target for a test message.
func truncateTarget(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// checkAllow checks the Allow header of a 405 response to a request for
// a route that serves other methods.
func checkAllow(tb testing.TB, req string, r rawResponse) {
	tb.Helper()
	allow := r.Header.Get("Allow")
	if allow == "" {
		tb.Errorf("%s: 405 without Allow", req)
		return
	}
	for _, m := range strings.Split(allow, ", ") {
		switch m {
		case http.MethodGet, http.MethodHead, http.MethodPost,
			http.MethodOptions:
		default:
			tb.Errorf("%s: Allow %q lists %q", req, allow, m)
		}
	}
}

// TestMalformedRequestsAnsweredByNetHTTP covers requests that net/http
// rejects while it reads them, before any handler runs. The responses
// are net/http's own plain text, not JSON, and the gateway cannot
// change them without replacing the HTTP server. Each must still be a
// 4xx, or 505 for an unknown HTTP version, and leave the server serving.
func TestMalformedRequestsAnsweredByNetHTTP(t *testing.T) {
	g := startDemoGateway(t)
	host := "Host: " + g.Addr
	big := strings.Repeat("x", 70<<10)
	manyHeaders := make([]string, 3000)
	for i := range manyHeaders {
		manyHeaders[i] = fmt.Sprintf("X-Filler-%d: %s", i,
			strings.Repeat("y", 20))
	}
	tests := []struct {
		name   string
		method string
		head   string
		status int
	}{
		{"invalid escape", "GET", "GET /demo/tiny-model/resolve/main/" +
			"config%zz.json HTTP/1.1\r\n" + host, 400},
		{"truncated escape", "GET", "GET /demo/tiny-model/resolve/main/" +
			"config.json%2 HTTP/1.1\r\n" + host, 400},
		{"header over the limit", "GET", "GET /healthz HTTP/1.1\r\n" +
			host + "\r\nX-Big: " + big, 431},
		{"thousands of headers", "GET", "GET /healthz HTTP/1.1\r\n" +
			host + "\r\n" + strings.Join(manyHeaders, "\r\n"), 431},
		{"request line over the limit", "GET", "GET /" + big +
			" HTTP/1.1\r\n" + host, 431},
		{"invalid method", "G(T", "G(T /healthz HTTP/1.1\r\n" + host, 400},
		{"control byte in header", "GET", "GET /healthz HTTP/1.1\r\n" +
			host + "\r\nX-Request-Id: a\x01b", 400},
		{"NUL in header", "GET", "GET /healthz HTTP/1.1\r\n" + host +
			"\r\nX-Request-Id: a\x00b", 400},
		{"invalid header name", "GET", "GET /healthz HTTP/1.1\r\n" + host +
			"\r\nBad Name: x", 400},
		{"missing Host", "GET", "GET /healthz HTTP/1.1", 400},
		{"two Hosts", "GET", "GET /healthz HTTP/1.1\r\n" + host + "\r\n" +
			host, 400},
		{"conflicting lengths", "POST", "POST /api/models/demo/tiny-model/" +
			"paths-info/main HTTP/1.1\r\n" + host +
			"\r\nContent-Length: 1\r\nContent-Length: 2", 400},
		{"unknown transfer coding", "POST", "POST /api/models/demo/" +
			"tiny-model/paths-info/main HTTP/1.1\r\n" + host +
			"\r\nTransfer-Encoding: gzip", 501},
		{"unknown HTTP version", "GET", "GET /healthz HTTP/9.9\r\n" + host,
			505},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.raw(t, tt.method, tt.head)
			if r.StatusCode != tt.status {
				t.Errorf("status %d, want %d; body %q", r.StatusCode,
					tt.status, r.Body)
			}
			if loc := r.Header.Get("Location"); loc != "" {
				t.Errorf("Location %q, want none", loc)
			}
			h := g.get(t, http.MethodGet, "/healthz")
			if h.StatusCode != http.StatusOK {
				t.Errorf("GET /healthz afterwards: status %d, want 200",
					h.StatusCode)
			}
		})
	}
}

// TestRequestIDNotEchoed sends X-Request-Id values that net/http lets
// through but that must not reach a response header or the log as they
// are, and one valid id that must come back unchanged.
func TestRequestIDNotEchoed(t *testing.T) {
	g := startDemoGateway(t)
	tests := []struct {
		name string
		id   string
		echo bool
	}{
		{"valid", "req-42_a.b:c", true},
		{"tab inside", "abc\tdef", false},
		{"non-ASCII bytes", "abc\xc2\x85def", false},
		{"invalid UTF-8", "abc\xffdef", false},
		{"escape sequence text", `abc\x1b[31m`, false},
		{"percent-encoded CRLF", "abc%0d%0aSet-Cookie:x=1", false},
		{"quote", `abc"def`, false},
		{"over 128 bytes", strings.Repeat("a", 129), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := g.get(t, http.MethodGet, "/healthz",
				"X-Request-Id: "+tt.id)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200; body %q", r.StatusCode,
					r.Body)
			}
			got := r.Header.Get("X-Request-Id")
			if tt.echo {
				if got != tt.id {
					t.Errorf("X-Request-Id = %q, want %q echoed", got,
						tt.id)
				}
				return
			}
			if got == "" || strings.Contains(got, tt.id) {
				t.Errorf("X-Request-Id = %q for %q, want a new id", got,
					tt.id)
			}
			if strings.Contains(g.Logs.String(), tt.id) {
				t.Errorf("log contains the rejected id %q", tt.id)
			}
			if !strings.Contains(g.Logs.String(),
				`"request_id":"`+got+`"`) {
				t.Errorf("log has no record with request_id %q", got)
			}
		})
	}
}

func TestThousandsOfQueryParameters(t *testing.T) {
	g := startDemoGateway(t)
	distinct := make([]string, 5000)
	for i := range distinct {
		distinct[i] = fmt.Sprintf("p%d=%d", i, i)
	}
	tests := []struct {
		name   string
		query  string
		status int
		body   string // a substring of the body
	}{
		{"5,000 distinct parameters", strings.Join(distinct, "&"),
			http.StatusOK, `"id":"` + demo.Model + `"`},
		// Above 10,000 parameters Go's url.ParseQuery returns an error,
		// which the gateway reports instead of ignoring the query.
		{"12,000 parameters", strings.Repeat("a&", 12000) + "limit=0",
			http.StatusBadRequest, "invalid query string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/api/models?" + tt.query
			r := g.get(t, http.MethodGet, target)
			if r.StatusCode != tt.status {
				t.Errorf("status %d, want %d; body %.200q", r.StatusCode,
					tt.status, r.Body)
			}
			if !strings.Contains(r.Body, tt.body) {
				t.Errorf("body %.200q does not contain %q", r.Body, tt.body)
			}
		})
	}
}
