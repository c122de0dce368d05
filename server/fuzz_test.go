package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseFileRequest checks that every file request the decoder
// accepts names a key inside its model's prefix: no "." or ".."
// segment, no empty segment, no backslash, no control character, valid
// UTF-8, and at most maxKeyBytes long. The arguments are the escaped
// {org}, {name}, {rev} and file path parameters as routed. The seed
// corpora of these targets are in testdata/fuzz.
func FuzzParseFileRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, org, name, rev, file string) {
		fr, err := parseFileRequest(org, name, rev, file)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("parseFileRequest(%q, %q, %q, %q) error %v, "+
					"want a 400 *Error", org, name, rev, file, err)
			}
			return
		}
		checkSignedKey(t, fr)
		checkRevision(t, fr.rev)

		// The escaped form of an accepted path decodes to itself.
		back, err := decodePath(escapePath(fr.path))
		if err != nil || back != fr.path {
			t.Fatalf("decodePath(escapePath(%q)) = %q, %v", fr.path,
				back, err)
		}
	})
}

// checkSignedKey checks the key the catalog would sign for fr, which is
// the model's prefix followed by the file's path.
func checkSignedKey(tb testing.TB, fr fileRequest) {
	tb.Helper()
	prefix := fr.model + "/"
	key := prefix + fr.path
	if strings.Count(fr.model, "/") != 1 {
		tb.Fatalf("model %q is not org/name", fr.model)
	}
	if !strings.HasPrefix(key, prefix) || len(key) == len(prefix) {
		tb.Fatalf("key %q is not a file under %q", key, prefix)
	}
	if len(key) > maxKeyBytes {
		tb.Fatalf("key is %d bytes, over %d", len(key), maxKeyBytes)
	}
	if !utf8.ValidString(key) {
		tb.Fatalf("key %q is not valid UTF-8", key)
	}
	if path.Clean(key) != key || strings.HasPrefix(key, "/") {
		tb.Fatalf("key %q is not a clean relative path", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			tb.Fatalf("key %q has the segment %q", key, seg)
		}
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f || c == '\\' {
			tb.Fatalf("key %q has the byte %#x", key, c)
		}
	}
}

func checkRevision(tb testing.TB, rev string) {
	tb.Helper()
	if rev == "" || !utf8.ValidString(rev) {
		tb.Fatalf("revision %q is empty or not UTF-8", rev)
	}
	for i := 0; i < len(rev); i++ {
		if c := rev[i]; c < 0x20 || c == 0x7f {
			tb.Fatalf("revision %q has the byte %#x", rev, c)
		}
	}
}

// FuzzCursor checks that decodeCursor never panics, rejects input only
// with a 400, and that the position it decodes survives a round trip
// through encodeCursor. It also takes the fuzzed string as the last
// entry of a page and checks that its cursor decodes back to it.
func FuzzCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, c string) {
		last, err := decodeCursor(c)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
				t.Fatalf("decodeCursor(%q) error %v, want a 400 *Error",
					c, err)
			}
		} else if c != "" {
			// Base64 decoding skips CR and LF and ignores unused low
			// bits, so c need not come back byte for byte, but its
			// position must.
			again, err := decodeCursor(encodeCursor(last))
			if err != nil || again != last {
				t.Fatalf("cursor %q decodes to %q, and re-encoded to "+
					"%q, %v", c, last, again, err)
			}
		}

		if c == "" || !utf8.ValidString(c) || len(c) > maxKeyBytes {
			return
		}
		back, err := decodeCursor(encodeCursor(c))
		if err != nil || back != c {
			t.Fatalf("decodeCursor(encodeCursor(%q)) = %q, %v", c, back,
				err)
		}
	})
}

// FuzzPathsInfo posts fuzzed bodies to the paths-info route of a server
// over a real catalog. Every response must be a 200 listing only paths
// of the model, or a 4xx JSON error; never a 5xx.
func FuzzPathsInfo(f *testing.F) {
	srv := newFixtureServer(f, Config{})
	files := make(map[string]bool)
	for p := range testFiles() {
		files[p] = true
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			files[d] = true
		}
	}

	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost,
			"/api/models/"+testModel+"/paths-info/main",
			bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := serve(srv, req)
		got := rec.Body.String()
		ct := rec.Header().Get("Content-Type")
		switch {
		case rec.Code == http.StatusOK:
			var entries []entryJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &entries); err != nil {
				t.Fatalf("200 body %q is not a list of entries: %v",
					got, err)
			}
			for _, e := range entries {
				if !files[e.Path] {
					t.Fatalf("listed %q, which is not in the model", e.Path)
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			if !isJSONError(ct, got) {
				t.Fatalf("status %d with %q body %q, want a JSON error",
					rec.Code, ct, got)
			}
		default:
			t.Fatalf("status %d for %q body %q; response %q", rec.Code,
				contentType, body, got)
		}
	})
}
