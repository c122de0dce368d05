package catalog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

// manifestFor returns a manifest of model that lists each key of f below
// prefix with the size and ETag f lists it with, and the SHA-256 of its
// body.
func manifestFor(tb testing.TB, f *fakeLister, model, prefix string,
	keys ...string,
) []byte {
	tb.Helper()
	m := Manifest{Format: ManifestFormat, Model: model,
		Published: time.Unix(1700000000, 0).UTC()}
	for _, k := range keys {
		size, etag := f.stat(k)
		sum := sha256.Sum256(f.bodies[k])
		m.Files = append(m.Files, ManifestFile{
			Path: strings.TrimPrefix(k, prefix), Size: size,
			ETag: etag, SHA256: hex.EncodeToString(sum[:]),
		})
	}
	data, err := m.Marshal()
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	return data
}

// mustRefresh runs one refresh of c and fails the test on error.
func mustRefresh(tb testing.TB, c *Catalog) *Snapshot {
	tb.Helper()
	s, err := c.Refresh(context.Background())
	if err != nil {
		tb.Fatalf("Refresh: %v", err)
	}
	return s
}

// fileSHA256 returns the hex SHA-256 the snapshot gives a file, or "".
func fileSHA256(tb testing.TB, s *Snapshot, model, path string) string {
	tb.Helper()
	m, ok := s.Model(model)
	if !ok {
		tb.Fatalf("Model(%q) not found", model)
	}
	f, ok := m.File(path)
	if !ok {
		tb.Fatalf("File(%q) not found in %s", path, model)
	}
	sum, ok := f.SHA256()
	if !ok {
		return ""
	}
	return hex.EncodeToString(sum[:])
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// newManifestLister returns a fake bucket with model acme/tiny, whose
// manifest vouches for a.bin only: b.bin changed content at the same
// size, c.bin changed size, and d.bin is not listed in it. Model
// beta/plain has no manifest.
func newManifestLister(tb testing.TB) *fakeLister {
	tb.Helper()
	f := &fakeLister{pageSize: 1000, bodies: map[string][]byte{
		"acme/tiny/a.bin":  []byte("alpha"),
		"acme/tiny/b.bin":  []byte("bravo"),
		"acme/tiny/c.bin":  []byte("charlie"),
		"acme/tiny/d.bin":  []byte("delta"),
		"beta/plain/e.bin": []byte("echo"),
	}}
	f.bodies[manifestKey("acme/tiny/")] = manifestFor(tb, f,
		"acme/tiny", "acme/tiny/",
		"acme/tiny/a.bin", "acme/tiny/b.bin", "acme/tiny/c.bin")
	f.bodies["acme/tiny/b.bin"] = []byte("BRAVO")
	f.bodies["acme/tiny/c.bin"] = []byte("charlie2")
	for k := range f.bodies {
		f.keys = append(f.keys, k)
	}
	f.keys = append(f.keys, "acme/tiny/.modelgate/notes.txt")
	return f
}

// manifestKey returns the manifest key of the model at prefix.
func manifestKey(prefix string) string { return prefix + ManifestPath }

func TestManifestGivesSHA256(t *testing.T) {
	f := newManifestLister(t)
	s := mustRefresh(t, newTestCatalog(t, f, ""))

	tests := []struct {
		model, path, want string
	}{
		{"acme/tiny", "a.bin", hexSHA256([]byte("alpha"))},
		{"acme/tiny", "b.bin", ""},
		{"acme/tiny", "c.bin", ""},
		{"acme/tiny", "d.bin", ""},
		{"beta/plain", "e.bin", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := fileSHA256(t, s, tt.model, tt.path)
			if got != tt.want {
				t.Errorf("SHA256(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}

	m, _ := s.Model("acme/tiny")
	if m.NumFiles() != 4 {
		t.Errorf("acme/tiny has %d files, want 4 without %s",
			m.NumFiles(), ManifestDir)
	}
	if s.Objects != 5 || s.Skipped != 2 {
		t.Errorf("Objects, Skipped = %d, %d, want 5, 2",
			s.Objects, s.Skipped)
	}
	if s.Verified != 1 || s.Unverified != 3 {
		t.Errorf("Verified, Unverified = %d, %d, want 1, 3",
			s.Verified, s.Unverified)
	}
}

func TestManifestReadOncePerETag(t *testing.T) {
	f := newManifestLister(t)
	c := newTestCatalog(t, f, "")
	for range 3 {
		mustRefresh(t, c)
	}
	if got := f.gets.Load(); got != 1 {
		t.Fatalf("GetObject calls after 3 refreshes = %d, want 1", got)
	}

	// A new manifest that vouches for d.bin as well.
	f.bodies[manifestKey("acme/tiny/")] = manifestFor(t, f,
		"acme/tiny", "acme/tiny/", "acme/tiny/a.bin", "acme/tiny/d.bin")
	s := mustRefresh(t, c)
	if got := f.gets.Load(); got != 2 {
		t.Errorf("GetObject calls after the manifest changed = %d, "+
			"want 2", got)
	}
	if got := fileSHA256(t, s, "acme/tiny", "d.bin"); got == "" {
		t.Errorf("d.bin has no SHA-256 after the new manifest")
	}
}

// TestManifestAcrossRefreshes refreshes a model whose manifest stays the
// same while its files change, so the one parsed manifest is matched
// against several snapshots.
func TestManifestAcrossRefreshes(t *testing.T) {
	a, b := "acme/tiny/a.bin", "acme/tiny/b.bin"
	f := &fakeLister{pageSize: 1000, keys: []string{a, b},
		bodies: map[string][]byte{a: []byte("alpha"), b: []byte("bravo")}}
	f.bodies[manifestKey("acme/tiny/")] = manifestFor(t, f,
		"acme/tiny", "acme/tiny/", a, b)
	f.keys = append(f.keys, manifestKey("acme/tiny/"))
	c := newTestCatalog(t, f, "")
	sumA, sumB := hexSHA256([]byte("alpha")), hexSHA256([]byte("bravo"))

	steps := []struct {
		name         string
		change       func()
		keys         []string
		wantA, wantB string
	}{
		{"first", func() {}, []string{a, b}, sumA, sumB},
		{"unchanged", func() {}, []string{a, b}, sumA, sumB},
		{"b changed", func() { f.bodies[b] = []byte("BRAVO") },
			[]string{a, b}, sumA, ""},
		{"b restored", func() { f.bodies[b] = []byte("bravo") },
			[]string{a, b}, sumA, sumB},
		{"a deleted", func() {}, []string{b}, "", sumB},
		{"a back", func() {}, []string{a, b}, sumA, sumB},
	}
	for _, st := range steps {
		st.change()
		f.keys = append(st.keys, manifestKey("acme/tiny/"))
		s := mustRefresh(t, c)
		for _, tt := range []struct{ key, want string }{
			{a, st.wantA}, {b, st.wantB},
		} {
			if !slices.Contains(st.keys, tt.key) {
				continue
			}
			path := strings.TrimPrefix(tt.key, "acme/tiny/")
			got := fileSHA256(t, s, "acme/tiny", path)
			if got != tt.want {
				t.Errorf("%s: SHA256(%s) = %q, want %q", st.name, path,
					got, tt.want)
			}
		}
	}
	if got := f.gets.Load(); got != 1 {
		t.Errorf("GetObject calls = %d, want 1 for one manifest", got)
	}
}

func TestManifestReadFailureKeepsPrevious(t *testing.T) {
	f := newManifestLister(t)
	c := newTestCatalog(t, f, "")
	mustRefresh(t, c)

	f.bodies[manifestKey("acme/tiny/")] = manifestFor(t, f,
		"acme/tiny", "acme/tiny/", "acme/tiny/a.bin", "acme/tiny/d.bin")
	f.getErr = errors.New("connection reset")
	s := mustRefresh(t, c)
	if got := fileSHA256(t, s, "acme/tiny", "a.bin"); got == "" {
		t.Errorf("a.bin lost its SHA-256 when the new manifest failed")
	}
	if got := fileSHA256(t, s, "acme/tiny", "d.bin"); got != "" {
		t.Errorf("d.bin has a SHA-256 from an unread manifest")
	}

	f.getErr = nil
	s = mustRefresh(t, c)
	if got := f.gets.Load(); got != 3 {
		t.Errorf("GetObject calls = %d, want 3: one retry", got)
	}
	if got := fileSHA256(t, s, "acme/tiny", "d.bin"); got == "" {
		t.Errorf("d.bin has no SHA-256 after the retry")
	}
}

func TestManifestRejected(t *testing.T) {
	sum := hexSHA256([]byte("alpha"))
	tests := []struct {
		name, body string
	}{
		{"not json", `{"format":1,`},
		{"unknown format", `{"format":2,"model":"acme/tiny"}`},
		{"other model", `{"format":1,"model":"acme/other","files":[]}`},
		{"short digest", `{"format":1,"model":"acme/tiny","files":` +
			`[{"path":"a.bin","size":5,"etag":"x","sha256":"abc"}]}`},
		{"repeated path", `{"format":1,"model":"acme/tiny","files":[` +
			`{"path":"a.bin","size":5,"etag":"x","sha256":"` + sum + `"},` +
			`{"path":"a.bin","size":5,"etag":"x","sha256":"` + sum + `"}]}`},
		{"dot segment", `{"format":1,"model":"acme/tiny","files":` +
			`[{"path":"../a.bin","size":5,"etag":"x","sha256":"` + sum +
			`"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newManifestLister(t)
			f.bodies[manifestKey("acme/tiny/")] = []byte(tt.body)
			c := newTestCatalog(t, f, "")
			mustRefresh(t, c)
			s := mustRefresh(t, c)
			if got := fileSHA256(t, s, "acme/tiny", "a.bin"); got != "" {
				t.Errorf("a.bin has SHA-256 %s from a rejected manifest",
					got)
			}
			if s.Unverified != 4 {
				t.Errorf("Unverified = %d, want 4", s.Unverified)
			}
			if got := f.gets.Load(); got != 1 {
				t.Errorf("GetObject calls = %d, want 1", got)
			}
		})
	}
}

func TestManifestLogsOneLinePerModel(t *testing.T) {
	f := newManifestLister(t)
	f.keys = append(f.keys, "acme/tiny/e.bin", "acme/tiny/f.bin")
	var buf bytes.Buffer
	c, err := New(f, Config{Bucket: "models",
		Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mustRefresh(t, c)
	mustRefresh(t, c)

	lines := strings.Count(buf.String(), "served without SHA-256")
	if lines != 1 {
		t.Errorf("log has %d lines on unverified files after two "+
			"refreshes of the same bucket, want 1:\n%s", lines,
			buf.String())
	}
	if !strings.Contains(buf.String(), "model=acme/tiny files=5") {
		t.Errorf("log does not count 5 files of acme/tiny:\n%s",
			buf.String())
	}

	f.keys = append(f.keys, "acme/tiny/g.bin")
	mustRefresh(t, c)
	if !strings.Contains(buf.String(), "model=acme/tiny files=6") {
		t.Errorf("log does not count 6 files after one more file:\n%s",
			buf.String())
	}
}

func TestParseManifestSortsAndRoundTrips(t *testing.T) {
	in := Manifest{Format: ManifestFormat, Model: "acme/tiny",
		Published: time.Unix(1700000000, 0).UTC(),
		Files: []ManifestFile{
			{Path: "z/b.bin", Size: 1, ETag: "e1",
				SHA256: hexSHA256([]byte("b"))},
			{Path: "a.bin", Size: 0, ETag: "e2",
				SHA256: hexSHA256(nil)},
		}}
	data, err := in.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	out, err := ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	if len(out.Files) != 2 || out.Files[0].Path != "a.bin" {
		t.Fatalf("ParseManifest files = %+v, want a.bin first", out.Files)
	}
	if out.Files[1] != in.Files[1] || !out.Published.Equal(in.Published) {
		t.Errorf("ParseManifest(Marshal(m)) = %+v, want %+v", out, in)
	}
}
