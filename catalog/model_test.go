package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mustModel lists keys through a fake bucket and returns the model with
// the given id. The fake lists each key with its length as size and
// key+"-etag" as ETag.
func mustModel(tb testing.TB, keys []string, id string) *Model {
	tb.Helper()
	m, ok := mustSnapshot(tb, keys).Model(id)
	if !ok {
		tb.Fatalf("Model(%q) not found", id)
	}
	return m
}

// modelKeys returns n keys of model acme/tiny in three folders, listed
// in descending order so that the catalog has to sort them.
func modelKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		j := n - 1 - i
		keys[i] = fmt.Sprintf("acme/tiny/d%d/f%04d.bin", j%3, j)
	}
	return keys
}

func TestModelFile(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7, 96, 97, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			keys := modelKeys(n)
			m := mustModel(t, keys, "acme/tiny")
			if m.NumFiles() != n {
				t.Fatalf("NumFiles() = %d, want %d", m.NumFiles(), n)
			}
			for _, k := range keys {
				path := strings.TrimPrefix(k, m.Prefix)
				f, ok := m.File(path)
				if !ok {
					t.Fatalf("File(%q) not found", path)
				}
				want := File{Key: k, Path: path, Size: int64(len(k)),
					ETag: k + "-etag", quotedETag: `"` + k + `-etag"`,
					modified: f.modified}
				if f != want {
					t.Errorf("File(%q) = %+v, want %+v", path, f, want)
				}
			}
		})
	}
}

func TestModelFileNotFound(t *testing.T) {
	m := mustModel(t, modelKeys(100), "acme/tiny")
	for _, path := range []string{
		"", "d0", "d0/", "D0/f0000.bin", "d0/f0000.bi", "d0/f0000.bin/",
		"/d0/f0000.bin", "d0//f0000.bin", "d1/f0000.bin",
		"acme/tiny/d0/f0000.bin", "d0/f0000.bin\x00",
	} {
		if f, ok := m.File(path); ok {
			t.Errorf("File(%q) = %+v, want not found", path, f)
		}
	}
}

func TestModelFilesSorted(t *testing.T) {
	m := mustModel(t, modelKeys(50), "acme/tiny")
	var paths []string
	for i, f := range m.Files() {
		if at := m.FileAt(i); f != at {
			t.Errorf("Files() at %d = %+v, FileAt = %+v", i, f, at)
		}
		paths = append(paths, f.Path)
	}
	if len(paths) != 50 || !slices.IsSorted(paths) {
		t.Errorf("Files() paths = %q, want 50 sorted", paths)
	}

	visited := 0
	for range m.Files() {
		visited++
		break
	}
	if visited != 1 {
		t.Errorf("Files() ran the loop body %d times with a break, "+
			"want 1", visited)
	}
}

func TestModelFileAllocs(t *testing.T) {
	m := mustModel(t, modelKeys(100), "acme/tiny")
	tests := []struct {
		name string
		call func()
	}{
		{"File found", func() { m.File("d1/f0001.bin") }},
		{"File not found", func() { m.File("d1/f0002.bin") }},
		{"FileAt", func() { m.FileAt(42) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tt.call); n != 0 {
				t.Errorf("%s allocates %v times per call, want 0",
					tt.name, n)
			}
		})
	}
}

func TestQuotedETagOfLiteralFile(t *testing.T) {
	f := File{ETag: "abc-2"}
	if got := f.QuotedETag(); got != `"abc-2"` {
		t.Errorf("QuotedETag() = %q, want %q", got, `"abc-2"`)
	}
}
