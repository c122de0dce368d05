package s3test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinary builds the server binary if the cache lacks it, so that
// `go test ./internal/s3test/` also warms the cache for later runs.
func TestBinary(t *testing.T) {
	first, err := Binary()
	if err != nil {
		t.Fatalf("Binary(): %v", err)
	}
	info, err := os.Stat(first)
	if err != nil {
		t.Fatalf("Binary() = %q: %v", first, err)
	}
	if info.Mode().Perm()&0o100 == 0 {
		t.Errorf("Binary() = %q with mode %v, want executable", first, info.Mode())
	}
	second, err := Binary()
	if err != nil {
		t.Fatalf("second Binary(): %v", err)
	}
	if second != first {
		t.Errorf("second Binary() = %q, want the cached %q", second, first)
	}
}

func TestBinaryEnvironment(t *testing.T) {
	t.Run("MODELGATE_WEED set", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "weed")
		if err := os.WriteFile(path, nil, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("MODELGATE_WEED", path)
		got, err := Binary()
		if err != nil {
			t.Fatalf("Binary(): %v", err)
		}
		if got != path {
			t.Errorf("Binary() = %q, want %q", got, path)
		}
	})

	t.Run("MODELGATE_WEED missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing")
		t.Setenv("MODELGATE_WEED", path)
		got, err := Binary()
		if err == nil {
			t.Fatalf("Binary() = %q, want an error", got)
		}
		if !strings.Contains(err.Error(), "MODELGATE_WEED") {
			t.Errorf("Binary() error = %v, want it to name MODELGATE_WEED", err)
		}
	})
}

func TestModuleHashChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		if err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module weedbuild\n")
	write("go.sum", "a v1.0.0 h1:x\n")
	before, err := moduleHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", "a v1.0.1 h1:y\n")
	after, err := moduleHash(dir)
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Errorf("moduleHash = %q before and after a go.sum change, want different", before)
	}
}
