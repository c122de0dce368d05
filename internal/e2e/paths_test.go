package e2e

import (
	"net/http"
	"strings"
	"testing"
)

func TestInvalidPathsRejected(t *testing.T) {
	suiteFor(t)
	g := startGateway(t)
	long := strings.Repeat("a", 1100)
	// Each file part is appended to a download or listing route as it is,
	// byte for byte.
	fileParts := []struct{ name, part string }{
		{"dot-dot segment", "../config.json"},
		{"dot-dot inside", "sub/../config.json"},
		{"dot segment", "./config.json"},
		{"encoded dot-dot", "%2e%2e/config.json"},
		{"encoded dot-dot upper", "%2E%2E/config.json"},
		{"encoded slash", "sub%2Fdir%2Fdeep%20file.txt"},
		{"encoded slash traversal", "..%2F..%2Fconfig.json"},
		{"encoded backslash", "..%5Cconfig.json"},
		{"double-encoded dot-dot", "%252e%252e/config.json"},
		{"double-encoded slash", "sub%252Fdir/deep%20file.txt"},
		{"backslash", `..\config.json`},
		{"backslash inside", `sub\dir\deep%20file.txt`},
		{"NUL", "config.json%00"},
		{"NUL alone", "%00"},
		{"control character", "config%0A.json"},
		{"invalid UTF-8", "%ff.json"},
		{"Latin-1 byte", "caf%e9.txt"},
		{"empty segment", "sub//dir/deep%20file.txt"},
		{"over-long path", long},
		{"over-long in folders", strings.Repeat("abcdefgh/", 120) + "x"},
	}
	routes := []struct{ name, prefix string }{
		{"resolve", "/" + modelID + "/resolve/main/"},
		{"raw", "/" + modelID + "/raw/main/"},
		{"tree", "/api/models/" + modelID + "/tree/main/"},
	}
	for _, r := range routes {
		for _, fp := range fileParts {
			t.Run(r.name+"/"+fp.name, func(t *testing.T) {
				resp, body := rawRequest(t, g.Addr, http.MethodGet,
					r.prefix+fp.part)
				checkJSONError(t, resp, body, 0)
			})
		}
	}

	// Traversal attempts in the model id and the revision.
	const file = "/resolve/main/config.json"
	others := []struct{ name, target string }{
		{"dot-dot org", "/../special-names" + file},
		{"encoded dot-dot org", "/%2e%2e/special-names" + file},
		{"encoded slash in name", "/e2e%2Fspecial-names/x" + file},
		{"dot-dot name", "/e2e/.." + file},
		{"NUL in name", "/e2e/special-names%00" + file},
		{"encoded slash revision", "/" + modelID +
			"/resolve/..%2F..%2Fmain/config.json"},
		{"NUL revision", "/" + modelID + "/resolve/main%00/config.json"},
		{"invalid UTF-8 revision", "/" + modelID +
			"/resolve/%ff/config.json"},
		{"over-long revision", "/" + modelID + "/resolve/" + long +
			"/config.json"},
	}
	for _, o := range others {
		t.Run(o.name, func(t *testing.T) {
			resp, body := rawRequest(t, g.Addr, http.MethodGet, o.target)
			checkJSONError(t, resp, body, 0)
		})
	}
}

func TestUnknownReturns404(t *testing.T) {
	suiteFor(t)
	g := startGateway(t)
	stale := strings.Repeat("0", 40)
	tests := []struct {
		name, target, code string
	}{
		{"unknown model", "/e2e/no-such-model/resolve/main/config.json",
			"RepoNotFound"},
		{"unknown org", "/nobody/special-names/resolve/main/config.json",
			"RepoNotFound"},
		{"unknown file", "/" + modelID + "/resolve/main/no-such-file.bin",
			"EntryNotFound"},
		{"folder as file", "/" + modelID + "/resolve/main/naïve",
			"EntryNotFound"},
		{"unknown revision", "/" + modelID + "/resolve/dev/config.json",
			"RevisionNotFound"},
		{"stale commit", "/" + modelID + "/resolve/" + stale +
			"/config.json", "RevisionNotFound"},
		{"unknown model info", "/api/models/e2e/no-such-model",
			"RepoNotFound"},
		{"unknown tree path", "/api/models/" + modelID +
			"/tree/main/no-such-folder", "EntryNotFound"},
		{"unknown tree revision", "/api/models/" + modelID + "/tree/dev",
			"RevisionNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet,
				g.URL+escapeSegments(tt.target), nil)
			resp, body := do(t, g.noRedirectClient(), req)
			checkJSONError(t, resp, body, http.StatusNotFound)
			if got := resp.Header.Get("X-Error-Code"); got != tt.code {
				t.Errorf("GET %s: X-Error-Code %q, want %q", req.URL, got,
					tt.code)
			}
		})
	}
}
