package server_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelgate/modelgate/server"
)

// TestPagesPublicURLPrefix checks the pages behind a proxy that strips
// the path prefix of the public URL. Every link the pages render keeps
// that prefix: assets, model and download links, the filter form,
// pagination and the links back to the model list.
func TestPagesPublicURLPrefix(t *testing.T) {
	objs := append(manyModels(150), pageBucket...)
	srv := newPageServer(t,
		server.Config{PublicURL: "http://x.example/base/"}, objs)
	tests := []struct {
		target string
		status int
		want   []string
	}{
		{"/", 200, []string{
			`href="/base/-/static/style.css?v=`,
			`src="/base/-/static/copy.js?v=`,
			`<a class="brand" href="/base/">`,
			`action="/base/"`,
			`<a href="/base/org/model-0001">`,
			`rel="next" href="/base/?page=2"`,
			`href="/base/api/models"`,
		}},
		{"/?q=model&page=2", 200, []string{
			`rel="prev" href="/base/?q=model"`,
			`<a href="/base/">Show all</a>`,
		}},
		{"/acme/llama-tiny", 200, []string{
			`<a href="/base/">Models</a>`,
			`<a href="/base/acme/llama-tiny/resolve/main/config.json">`,
			"curl -L -O -J http://x.example/base/acme/llama-tiny/" +
				"resolve/main/config.json",
		}},
		{"/acme/missing", 404, []string{
			`<a href="/base/">Back to the model list</a>`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res := requestPage(t, srv, "GET", tt.target,
				"Accept", browserAccept)
			if res.status != tt.status {
				t.Fatalf("GET %s: status %d, want %d", tt.target,
					res.status, tt.status)
			}
			for _, want := range tt.want {
				if !strings.Contains(res.body, want) {
					t.Errorf("GET %s lacks %s", tt.target, want)
				}
			}
			for _, ref := range pageLinks(res.body) {
				if !strings.HasPrefix(ref, "/base/") {
					t.Errorf("GET %s links to %q, outside /base/",
						tt.target, ref)
				}
			}
		})
	}
}

func TestIndexPageInvalidUTF8Query(t *testing.T) {
	srv := newPageServer(t, server.Config{}, manyModels(150))
	for _, target := range []string{"/?q=%ff", "/?q=model%C3&page=1"} {
		res := requestPage(t, srv, "GET", target)
		if res.status != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200", target, res.status)
		}
		if !utf8.ValidString(res.body) {
			t.Errorf("GET %s: the page is not valid UTF-8", target)
		}
		if !strings.Contains(res.body, "\uFFFD") {
			t.Errorf("GET %s: the page does not show U+FFFD in place "+
				"of the invalid bytes", target)
		}
	}
}

// pageLinks returns the value of every href, src and action attribute
// in an HTML page.
func pageLinks(body string) []string {
	var refs []string
	for _, attr := range []string{` href="`, ` src="`, ` action="`} {
		rest := body
		for {
			var found bool
			_, rest, found = strings.Cut(rest, attr)
			if !found {
				break
			}
			ref, _, _ := strings.Cut(rest, `"`)
			refs = append(refs, ref)
		}
	}
	return refs
}
