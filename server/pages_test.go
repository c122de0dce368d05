package server_test

import (
	"fmt"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/server"
)

// pageBucket is a small bucket with names that need escaping.
var pageBucket = []pageObject{
	{"acme/llama-tiny/config.json", 512},
	{"acme/llama-tiny/model.safetensors", 1_500_000_000},
	{"acme/llama-tiny/sub dir/naïve #1?.txt", 7},
	{"beta/Vision-LLaMA/weights.bin", 2048},
	{"gamma/other/a.txt", 1},
}

func TestIndexPageListsModels(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	tests := []struct {
		query string
		want  []string
		drop  []string
	}{
		{"", []string{"acme/llama-tiny", "beta/Vision-LLaMA",
			"gamma/other"}, nil},
		{"llama", []string{"acme/llama-tiny", "beta/Vision-LLaMA"},
			[]string{"gamma/other"}},
		{"VISION", []string{"beta/Vision-LLaMA"},
			[]string{"acme/llama-tiny", "gamma/other"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res := requestPage(t, srv, "GET", "/?q="+tt.query)
			if res.status != http.StatusOK {
				t.Fatalf("GET /?q=%s: status %d, want 200", tt.query,
					res.status)
			}
			for _, id := range tt.want {
				link := fmt.Sprintf(`<a href="/%s">%s</a>`, id, id)
				if !strings.Contains(res.body, link) {
					t.Errorf("GET /?q=%s: no link %s", tt.query, link)
				}
			}
			for _, id := range tt.drop {
				if strings.Contains(res.body, id) {
					t.Errorf("GET /?q=%s lists %s", tt.query, id)
				}
			}
			if got := tableRows(res.body); got != len(tt.want) {
				t.Errorf("GET /?q=%s: %d rows, want %d", tt.query, got,
					len(tt.want))
			}
		})
	}
}

func TestIndexPageModelFacts(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "GET", "/")
	row := `<a href="/acme/llama-tiny">acme/llama-tiny</a></th>
<td class="num files-col">3</td>
<td class="num"><data value="1500000519">1.50 GB</data></td>
<td><time datetime="2025-03-14T15:09:26Z"><span class="date">2025-03-14</span> 15:09 UTC</time></td>`
	if !strings.Contains(res.body, row) {
		t.Errorf("GET / has no row for acme/llama-tiny like\n%s\nbody:\n%s",
			row, res.body)
	}
	for _, want := range []string{
		`<label for="q">`, `<input type="search" id="q" name="q"`,
		`<form class="filter" method="get" action="/"`,
		`<th scope="col">Model</th>`, `<th scope="row">`,
		`<meta name="viewport"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("GET / lacks %s", want)
		}
	}
}

func TestIndexPageNoMatch(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "GET", "/?q=zzz")
	if res.status != http.StatusOK {
		t.Fatalf("GET /?q=zzz: status %d, want 200", res.status)
	}
	if !strings.Contains(res.body, "No model name contains “zzz”") {
		t.Errorf("GET /?q=zzz does not say that nothing matched")
	}
	if !strings.Contains(res.body, `value="zzz"`) {
		t.Errorf("GET /?q=zzz does not keep the query in the filter box")
	}
}

// manyModels returns n models of one file each, named org/model-0001 on.
func manyModels(n int) []pageObject {
	objs := make([]pageObject, n)
	for i := range objs {
		objs[i] = pageObject{fmt.Sprintf("org/model-%04d/f.bin", i+1), 10}
	}
	return objs
}

func TestIndexPagePagination(t *testing.T) {
	srv := newPageServer(t, server.Config{}, manyModels(250))
	tests := []struct {
		target     string
		status     int
		rows       int
		prev, next string
		first      string
	}{
		{"/", 200, 100, "", "/?page=2", "org/model-0001"},
		{"/?page=2", 200, 100, "/", "/?page=3", "org/model-0101"},
		{"/?page=3", 200, 50, "/?page=2", "", "org/model-0201"},
		{"/?q=model-0&page=1", 200, 100, "", "/?page=2&amp;q=model-0",
			"org/model-0001"},
		{"/?q=model-0&page=3", 200, 50, "/?page=2&amp;q=model-0", "",
			"org/model-0201"},
		{"/?q=model-02", 200, 51, "", "", "org/model-0200"},
		{"/?page=4", 404, 0, "", "", ""},
		{"/?page=0", 400, 0, "", "", ""},
		{"/?page=x", 400, 0, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", tt.target,
				"Accept", browserAccept)
			if res.status != tt.status {
				t.Fatalf("GET %s: status %d, want %d", tt.target,
					res.status, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := tableRows(res.body); got != tt.rows {
				t.Errorf("GET %s: %d rows, want %d", tt.target, got,
					tt.rows)
			}
			checkPagerLink(t, tt.target, res.body, "prev", tt.prev)
			checkPagerLink(t, tt.target, res.body, "next", tt.next)
			if !strings.Contains(res.body, ">"+tt.first+"</a>") {
				t.Errorf("GET %s does not list %s", tt.target, tt.first)
			}
		})
	}
}

// checkPagerLink checks the page's link with the given rel, or its
// absence when want is empty.
func checkPagerLink(tb testing.TB, target, body, rel, want string) {
	tb.Helper()
	attr := `rel="` + rel + `" href="`
	_, rest, found := strings.Cut(body, attr)
	got, _, _ := strings.Cut(rest, `"`)
	switch {
	case want == "" && found:
		tb.Errorf("GET %s has a %s link to %s, want none", target, rel,
			got)
	case want != "" && got != want:
		tb.Errorf("GET %s: %s link %q, want %q", target, rel, got, want)
	}
}

func TestModelPageFiles(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "GET", "/acme/llama-tiny")
	if res.status != http.StatusOK {
		t.Fatalf("GET /acme/llama-tiny: status %d, want 200", res.status)
	}
	wants := []string{
		"<h1>acme/llama-tiny</h1>",
		`<a href="/acme/llama-tiny/resolve/main/config.json">` +
			`config.json</a>`,
		`<a href="/acme/llama-tiny/resolve/main/sub%20dir/` +
			`na%C3%AFve%20%231%3F.txt">sub dir/naïve #1?.txt</a>`,
		`<data value="1500000000">1.50 GB</data>`,
		`<code class="etag">00000000000000000000000000000002</code>`,
		`<th scope="col" class="etag-col">ETag</th>`,
		"curl -L -O -J http://gateway.test/acme/llama-tiny/resolve/" +
			"main/config.json",
		"HF_ENDPOINT=http://gateway.test hf download acme/llama-tiny",
		"repo_id=&#34;acme/llama-tiny&#34;",
		"endpoint=&#34;http://gateway.test&#34;",
		"from huggingface_hub import snapshot_download",
		"import { snapshotDownload } from &#34;@huggingface/hub&#34;",
		"hubUrl: &#34;http://gateway.test&#34;",
	}
	for _, want := range wants {
		if !strings.Contains(res.body, want) {
			t.Errorf("GET /acme/llama-tiny lacks %s", want)
		}
	}
	if got := tableRows(res.body); got != 3 {
		t.Errorf("GET /acme/llama-tiny: %d file rows, want 3", got)
	}
}

func TestModelPagePublicURL(t *testing.T) {
	srv := newPageServer(t,
		server.Config{PublicURL: "https://models.example.com/"},
		pageBucket)
	res := requestPage(t, srv, "GET", "/acme/llama-tiny")
	want := "HF_ENDPOINT=https://models.example.com hf download"
	if !strings.Contains(res.body, want) {
		t.Errorf("GET /acme/llama-tiny lacks %q", want)
	}
	if strings.Contains(res.body, "gateway.test") {
		t.Errorf("GET /acme/llama-tiny uses the request's host " +
			"despite PublicURL")
	}
}

func TestModelPageFilePagination(t *testing.T) {
	objs := make([]pageObject, 1005)
	for i := range objs {
		objs[i] = pageObject{fmt.Sprintf("big/model/shard-%05d", i), 1}
	}
	srv := newPageServer(t, server.Config{}, objs)
	tests := []struct {
		target     string
		rows       int
		prev, next string
	}{
		{"/big/model", 1000, "", "/big/model?page=2"},
		{"/big/model?page=2", 5, "/big/model", ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", tt.target)
			if got := tableRows(res.body); got != tt.rows {
				t.Errorf("GET %s: %d rows, want %d", tt.target, got,
					tt.rows)
			}
			checkPagerLink(t, tt.target, res.body, "prev", tt.prev)
			checkPagerLink(t, tt.target, res.body, "next", tt.next)
		})
	}
}

func TestModelPageNotFound(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "GET", "/acme/missing",
		"Accept", browserAccept)
	if res.status != http.StatusNotFound {
		t.Fatalf("GET /acme/missing: status %d, want 404", res.status)
	}
	if got := res.header.Get("X-Error-Code"); got != "RepoNotFound" {
		t.Errorf("GET /acme/missing: X-Error-Code %q, want RepoNotFound",
			got)
	}
	if !strings.Contains(res.body, "<h1>404 Not Found</h1>") {
		t.Errorf("GET /acme/missing: no HTML error page:\n%s", res.body)
	}
}

// hostileNames are a model and file names that would run script if a
// page inserted them unescaped.
var hostileNames = []pageObject{
	{`xss/"><img src=x onerror=window.__pwned=1>/a.txt`, 1},
	{`safe/model/<img src=x onerror=alert(1)>"'.txt`, 2},
	{`safe/model/<script>alert(2)</script>.txt`, 3},
	{`safe/model/it's $(rm -rf ~).txt`, 4},
}

func TestPagesEscapeNames(t *testing.T) {
	srv := newPageServer(t, server.Config{}, hostileNames)
	for _, target := range []string{
		"/",
		"/safe/model",
		"/xss/%22%3E%3Cimg%20src=x%20onerror=window.__pwned=1%3E",
	} {
		t.Run(target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", target)
			if res.status != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", target,
					res.status)
			}
			for _, bad := range []string{"<img", "<script>alert",
				"onerror=alert(1)>\"'"} {
				if strings.Contains(res.body, bad) {
					t.Errorf("GET %s contains unescaped %s", target, bad)
				}
			}
		})
	}

	res := requestPage(t, srv, "GET", "/safe/model")
	wants := []string{
		html.EscapeString(`<img src=x onerror=alert(1)>"'.txt`),
		html.EscapeString(`<script>alert(2)</script>.txt`),
		`/safe/model/resolve/main/%3Cimg%20src=x%20onerror=alert%281%29` +
			`%3E%22%27.txt`,
		`/safe/model/resolve/main/%3Cscript%3Ealert%282%29%3C/script%3E.txt`,
	}
	for _, want := range wants {
		if !strings.Contains(res.body, want) {
			t.Errorf("GET /safe/model lacks %s", want)
		}
	}
	index := requestPage(t, srv, "GET", "/")
	want := html.EscapeString(`xss/"><img src=x onerror=window.__pwned=1>`)
	if !strings.Contains(index.body, want) {
		t.Errorf("GET / lacks the escaped model name %s", want)
	}
}

func TestModelPageQuotesCommands(t *testing.T) {
	srv := newPageServer(t, server.Config{}, []pageObject{
		{"o/m/it's $(x).txt", 1},
	})
	res := requestPage(t, srv, "GET", "/o/m")
	want := html.EscapeString(`curl -L -O -J 'http://gateway.test/o/m/` +
		`resolve/main/it%27s%20$%28x%29.txt'`)
	if !strings.Contains(res.body, want) {
		t.Errorf("GET /o/m lacks the quoted curl command %s\nbody:\n%s",
			want, res.body)
	}
}

func TestPageHeaders(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	for _, target := range []string{"/", "/acme/llama-tiny"} {
		t.Run(target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", target)
			wants := map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"X-Content-Type-Options": "nosniff",
				"Cache-Control":          "no-cache",
			}
			checkHeaders(t, "GET "+target, res.header, wants)
			csp := res.header.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'",
				"style-src 'self'", "img-src 'self'",
				"script-src 'self'", "form-action 'self'",
				"frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("GET %s: CSP %q lacks %s", target, csp,
						want)
				}
			}
			if got := res.header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("GET %s: page sends CORS origin %q", target, got)
			}
		})
	}
}

func TestPagesLinkOnlyOwnAssets(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	res := requestPage(t, srv, "GET", "/acme/llama-tiny")
	for _, ref := range pageLinks(res.body) {
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("page refers to %q, not to the gateway", ref)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	srv := newPageServer(t, server.Config{}, pageBucket)
	page := requestPage(t, srv, "GET", "/")
	_, rest, _ := strings.Cut(page.body, `<link rel="stylesheet" href="`)
	cssURL, _, _ := strings.Cut(rest, `"`)
	if !strings.HasPrefix(cssURL, "/-/static/style.css?v=") {
		t.Fatalf("stylesheet URL %q, want /-/static/style.css?v=...",
			cssURL)
	}

	css := requestPage(t, srv, "GET", cssURL)
	if css.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", cssURL, css.status)
	}
	if got := css.header.Get("Content-Type"); !strings.HasPrefix(got,
		"text/css") {
		t.Errorf("GET %s: Content-Type %q, want text/css", cssURL, got)
	}
	if got := css.header.Get("Cache-Control"); !strings.Contains(got,
		"immutable") {
		t.Errorf("GET %s: Cache-Control %q, want immutable", cssURL, got)
	}
	etag := css.header.Get("ETag")
	again := requestPage(t, srv, "GET", "/-/static/style.css",
		"If-None-Match", etag)
	if again.status != http.StatusNotModified {
		t.Errorf("GET style.css with If-None-Match %s: status %d, "+
			"want 304", etag, again.status)
	}
	for _, name := range []string{"copy.js", "favicon.svg"} {
		res := requestPage(t, srv, "GET", "/-/static/"+name)
		if res.status != http.StatusOK || res.body == "" {
			t.Errorf("GET /-/static/%s: status %d, %d bytes", name,
				res.status, len(res.body))
		}
	}
	missing := requestPage(t, srv, "GET", "/-/static/nope.css")
	if missing.status != http.StatusNotFound {
		t.Errorf("GET /-/static/nope.css: status %d, want 404",
			missing.status)
	}
}

func TestPageRoutesLeaveOthers(t *testing.T) {
	objs := append([]pageObject{{"-/other/f.txt", 1}}, pageBucket...)
	srv := newPageServer(t, server.Config{}, objs)
	tests := []struct {
		target string
		status int
		want   string
	}{
		{"/healthz", 200, ""},
		{"/readyz", 200, ""},
		{"/api/models", 200, `"id":"acme/llama-tiny"`},
		{"/api/unknown", 404, `"error"`},
		{"/acme/llama-tiny/resolve/main/config.json", 302, ""},
		{"/-/other", 200, "<h1>-/other</h1>"},
		{"/-/static/style.css", 200, "system-ui"},
		{"/acme/llama-tiny/", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", tt.target)
			if res.status != tt.status {
				t.Fatalf("GET %s: status %d, want %d", tt.target,
					res.status, tt.status)
			}
			if !strings.Contains(res.body, tt.want) {
				t.Errorf("GET %s: body lacks %s:\n%s", tt.target, tt.want,
					res.body)
			}
		})
	}
}
