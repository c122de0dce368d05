package server_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/server"
)

// wantFileHeaders checks the metadata headers that both clients read
// from a resolve response: X-Repo-Commit, ETag and X-Linked-Etag with the
// same quoted value, and X-Linked-Size.
func wantFileHeaders(tb testing.TB, r hubResponse, commit, body string) {
	tb.Helper()
	if got := r.header.Get("X-Repo-Commit"); got != commit {
		tb.Errorf("X-Repo-Commit = %q, want %q", got, commit)
	}
	etag := hubETag(body)
	if got := r.header.Get("ETag"); got != etag {
		tb.Errorf("ETag = %q, want %q", got, etag)
	}
	if got := r.header.Get("X-Linked-Etag"); got != etag {
		tb.Errorf("X-Linked-Etag = %q, want %q", got, etag)
	}
	size := strconv.Itoa(len(body))
	if got := r.header.Get("X-Linked-Size"); got != size {
		tb.Errorf("X-Linked-Size = %q, want %q", got, size)
	}
	wantNoXet(tb, r)
}

func TestResolveGetRedirects(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	files := hubFiles()
	commit := hubCommit(files)

	tests := []struct {
		name, rev, path, file string
	}{
		{"main", "main", "config.json", "config.json"},
		{"HEAD", "HEAD", "config.json", "config.json"},
		{"commit", commit, "config.json", "config.json"},
		{"subfolder", "main", "weights/shards/part-1.bin",
			"weights/shards/part-1.bin"},
		{"escaped name", "main",
			"dir%20with%20space/na%C3%AFve%20%C3%A9.txt",
			"dir with space/naïve é.txt"},
		{"raw name", "main", "dir with space/naïve é.txt",
			"dir with space/naïve é.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.get(t, "/acme/tiny/resolve/"+tt.rev+"/"+tt.path)
			if r.status != http.StatusFound {
				t.Fatalf("status = %d, want 302 (body %s)", r.status, r.body)
			}
			wantFileHeaders(t, r, commit, files[tt.file])

			key := hubRoot + "acme/tiny/" + tt.file
			loc := r.header.Get("Location")
			if !strings.HasPrefix(loc, hubSignerBase+key+"?") {
				t.Errorf("Location = %q, want the signed URL of %q", loc, key)
			}
			if keys := f.signer.signed(); !slices.Contains(keys, key) {
				t.Errorf("signed keys = %q, want %q among them", keys, key)
			}
			if len(r.body) != 0 {
				t.Errorf("body = %q, want empty", r.body)
			}
			if cl := r.header.Get("Content-Length"); cl != "0" {
				t.Errorf("Content-Length = %q, want 0", cl)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
}

func TestResolveHeadAnswers200(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	files := hubFiles()
	commit := hubCommit(files)

	for _, route := range []string{"resolve", "raw"} {
		for _, path := range []string{"config.json",
			"weights/model.safetensors"} {
			t.Run(route+"/"+path, func(t *testing.T) {
				r := f.head(t, "/acme/tiny/"+route+"/main/"+path)
				if r.status != http.StatusOK {
					t.Fatalf("status = %d, want 200", r.status)
				}
				wantFileHeaders(t, r, commit, files[path])
				if loc := r.header.Get("Location"); loc != "" {
					t.Errorf("Location = %q, want none", loc)
				}
				size := strconv.Itoa(len(files[path]))
				if cl := r.header.Get("Content-Length"); cl != size {
					t.Errorf("Content-Length = %q, want %q", cl, size)
				}
			})
		}
	}
	if keys := f.signer.signed(); len(keys) != 0 {
		t.Errorf("HEAD signed %q, want no URL signed", keys)
	}
}

func TestResolveZeroByteInline(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())

	tests := []struct {
		name, method, rng string
	}{
		{"GET", http.MethodGet, ""},
		{"GET range probe", http.MethodGet, "bytes=0-0"},
		{"HEAD", http.MethodHead, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.rng != "" {
				h.Set("Range", tt.rng)
			}
			r := f.do(t, tt.method, "/acme/tiny/resolve/main/empty.txt",
				nil, h)
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200", r.status)
			}
			wantFileHeaders(t, r, commit, "")
			if cr := r.header.Get("Content-Range"); cr != "bytes */0" {
				t.Errorf("Content-Range = %q, want bytes */0", cr)
			}
			if cl := r.header.Get("Content-Length"); cl != "0" {
				t.Errorf("Content-Length = %q, want 0", cl)
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("Location = %q, want none", loc)
			}
		})
	}
	if keys := f.signer.signed(); len(keys) != 0 {
		t.Errorf("zero-byte file signed %q, want no URL signed", keys)
	}
}

func TestResolveRevisions(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())

	tests := []struct {
		name, rev string
		ok        bool
	}{
		{"main", "main", true},
		{"HEAD", "HEAD", true},
		{"commit", commit, true},
		{"upper-case commit", strings.ToUpper(commit), false},
		{"other commit", strings.Repeat("a", 40), false},
		{"short commit", commit[:7], false},
		{"branch", "dev", false},
		{"tag", "v1.0", false},
		{"lower-case head", "head", false},
		{"pull request ref", "refs%2Fpr%2F1", false},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				r := f.do(t, method,
					"/acme/tiny/resolve/"+tt.rev+"/config.json", nil, nil)
				if !tt.ok {
					wantError(t, r, method == http.MethodHead,
						http.StatusNotFound, "RevisionNotFound")
					return
				}
				if r.status >= 400 {
					t.Fatalf("status = %d, want success", r.status)
				}
				got := r.header.Get("X-Repo-Commit")
				if got != commit {
					t.Errorf("X-Repo-Commit = %q, want %q", got, commit)
				}
				if !commitPattern.MatchString(got) {
					t.Errorf("X-Repo-Commit = %q, want 40 lower-case hex", got)
				}
			})
		}
	}
}

func TestResolveErrors(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	commit := hubCommit(hubFiles())

	tests := []struct {
		name, path string
		status     int
		code       string
		commit     string // expected X-Repo-Commit
	}{
		{"missing model", "/acme/nope/resolve/main/config.json",
			http.StatusNotFound, "RepoNotFound", ""},
		{"missing org", "/nobody/tiny/resolve/main/config.json",
			http.StatusNotFound, "RepoNotFound", ""},
		{"missing revision", "/acme/tiny/resolve/dev/config.json",
			http.StatusNotFound, "RevisionNotFound", ""},
		{"missing file", "/acme/tiny/resolve/main/generation_config.json",
			http.StatusNotFound, "EntryNotFound", commit},
		{"missing file at commit",
			"/acme/tiny/resolve/" + commit + "/adapter_config.json",
			http.StatusNotFound, "EntryNotFound", commit},
		{"directory", "/acme/tiny/resolve/main/weights",
			http.StatusNotFound, "EntryNotFound", commit},
		{"missing non-ASCII file", "/acme/tiny/resolve/main/d%C3%A9j%C3%A0.txt",
			http.StatusNotFound, "EntryNotFound", commit},
		{"encoded slash", "/acme/tiny/resolve/main/weights%2Fmodel.safetensors",
			http.StatusBadRequest, "BadRequest", ""},
		{"dot-dot", "/acme/tiny/resolve/main/weights/../config.json",
			http.StatusBadRequest, "BadRequest", ""},
		{"encoded dot-dot", "/acme/tiny/resolve/main/%2E%2E/config.json",
			http.StatusBadRequest, "BadRequest", ""},
		{"empty path", "/acme/tiny/resolve/main/",
			http.StatusBadRequest, "BadRequest", ""},
	}
	for _, tt := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(tt.name+"/"+method, func(t *testing.T) {
				r := f.do(t, method, tt.path, nil, nil)
				wantError(t, r, method == http.MethodHead, tt.status,
					tt.code)
				if got := r.header.Get("X-Repo-Commit"); got != tt.commit {
					t.Errorf("X-Repo-Commit = %q, want %q", got, tt.commit)
				}
				for _, v := range r.header.Values("X-Error-Message") {
					for _, c := range []byte(v) {
						if c < 0x20 || c > 0x7e {
							t.Errorf("X-Error-Message = %q, want ASCII", v)
							break
						}
					}
				}
			})
		}
	}
	if keys := f.signer.signed(); len(keys) != 0 {
		t.Errorf("failed requests signed %q, want no URL signed", keys)
	}
}

func TestResolveIgnoresBearerToken(t *testing.T) {
	f := newHubFixture(t, server.Config{})
	const token = "hf_NotAGatewayTokenAbCdEfGh123456"
	auth := http.Header{"Authorization": {"Bearer " + token}}

	paths := []string{
		"/acme/tiny/resolve/main/config.json",
		"/acme/tiny/resolve/main/empty.txt",
		"/acme/tiny/resolve/main/missing.bin",
		"/acme/nope/resolve/main/config.json",
		"/api/models/acme/tiny",
		"/api/models/acme/tiny/tree/main?recursive=true",
		"/api/whoami-v2",
	}
	for _, path := range paths {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+path, func(t *testing.T) {
				plain := f.do(t, method, path, nil, nil)
				with := f.do(t, method, path, nil, auth)
				if with.status != plain.status {
					t.Errorf("status with token = %d, without = %d",
						with.status, plain.status)
				}
				if string(with.body) != string(plain.body) {
					t.Errorf("body with token = %s, without = %s",
						with.body, plain.body)
				}
				for name, values := range with.header {
					if strings.Contains(strings.Join(values, " "), token) {
						t.Errorf("header %s carries the token", name)
					}
				}
			})
		}
	}
	if log := f.log.String(); strings.Contains(log, token) ||
		strings.Contains(log, "Bearer") {
		t.Errorf("log carries the bearer token:\n%s", log)
	}
	if !strings.Contains(f.log.String(), `"msg":"request"`) {
		t.Errorf("log has no access records; the check above is void")
	}
}
