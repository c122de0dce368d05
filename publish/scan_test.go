package publish

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeTree creates files (content by slash path), then symbolic links
// (target by slash path) below a new folder, and returns the folder.
func makeTree(tb testing.TB, files, links map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.Symlink(target, full); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func TestScanListsFilesAndIgnoredFolders(t *testing.T) {
	dir := makeTree(t, map[string]string{
		"config.json":              "{}",
		".gitattributes":           "*.bin lfs",
		"sub/.hidden":              "h",
		".git/HEAD":                "ref",
		"sub/.git/config":          "x",
		".modelgate/manifest.json": "{}",
		".cache/huggingface/x":     "y",
		".cache/other":             "z",
	}, map[string]string{"link.json": "config.json"})

	files, ignored, err := scan(dir, "org/name/")
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.path)
	}
	want := []string{".cache/other", ".gitattributes", "config.json",
		"link.json", "sub/.hidden"}
	if !reflect.DeepEqual(paths, want) {
		t.Errorf("scan files = %v, want %v", paths, want)
	}
	var ign []string
	for _, i := range ignored {
		ign = append(ign, i.Path)
	}
	wantIgn := []string{".cache/huggingface/", ".git/", ".modelgate/",
		"sub/.git/"}
	if !reflect.DeepEqual(ign, wantIgn) {
		t.Errorf("scan ignored = %v, want %v", ign, wantIgn)
	}
	if link := files[3]; filepath.Base(link.abs) != "config.json" ||
		link.size != 2 {
		t.Errorf("link.json = %+v, want the target config.json", link)
	}
}

func TestScanRejects(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		links map[string]string
		want  string
	}{
		{"link outside", nil, map[string]string{"a": outside},
			"leads outside the folder"},
		{"link up", map[string]string{"sub/x": "x"},
			map[string]string{"sub/a": "../.."}, "leads outside"},
		{"link to folder", map[string]string{"sub/x": "x"},
			map[string]string{"a": "sub"}, "links to folders"},
		{"broken link", nil, map[string]string{"a": "missing"},
			"broken symbolic link"},
		{"backslash", map[string]string{`a\b.txt`: "x"}, nil,
			"backslash or a control character"},
		{"control character", map[string]string{"a\x01.txt": "x"}, nil,
			"backslash or a control character"},
		{"invalid UTF-8", map[string]string{"a\xff.txt": "x"}, nil,
			"not valid UTF-8"},
		{"long key", map[string]string{strings.Repeat("k", 255) + "/" +
			strings.Repeat("k", 255) + "/" + strings.Repeat("k", 255) +
			"/" + strings.Repeat("k", 255): "x"}, nil,
			"longer than 1024 bytes"},
		{"no files", nil, nil, "has no files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := makeTree(t, tt.files, tt.links)
			_, _, err := scan(dir, "org/name/")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("scan = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestScanRejectsFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, _, err := scan(dir, "")
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("scan = %v, want a not-a-regular-file error", err)
	}
}

func TestValidateModel(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"acme/tiny", true},
		{"acme/tiny-v1.5", true},
		{"acme", false},
		{"acme/", false},
		{"/tiny", false},
		{"acme/tiny/extra", false},
		{"../tiny", false},
		{`acme\x/tiny`, false},
		{"acme/ti\nny", false},
		{"api/models", false},
		{"-/static", false},
		{"acme/api", true},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := ValidateModel(tt.id)
			if (err == nil) != tt.ok {
				t.Errorf("ValidateModel(%q) = %v, want ok %v", tt.id, err,
					tt.ok)
			}
		})
	}
}

func TestVerifyingReader(t *testing.T) {
	orig := []byte("0123456789")
	f := &localFile{path: "f", size: int64(len(orig))}
	if err := func() error {
		h := newVerifyingReader(bytes.NewReader(orig), f)
		_, err := io.Copy(io.Discard, h)
		return err
	}(); err == nil {
		t.Fatalf("reader with a zero digest accepted the content")
	}
	f.sum = sha256Of(orig)

	tests := []struct {
		name    string
		content []byte
		changed bool
	}{
		{"same", orig, false},
		{"other content", []byte("0123456788"), true},
		{"shorter", orig[:9], true},
		{"longer", append(append([]byte{}, orig...), 'x'), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newVerifyingReader(bytes.NewReader(tt.content), f)
			_, err := io.ReadAll(r)
			if got := errors.Is(err, ErrChanged); got != tt.changed {
				t.Errorf("ReadAll error = %v, want ErrChanged %v", err,
					tt.changed)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name        string
		done, total int64
		elapsed     time.Duration
		want        string
	}{
		{"start", 0, 10 << 20, 0,
			"f [                    ]   0% 0 B / 10.0 MiB"},
		{"half", 5 << 20, 10 << 20, 2 * time.Second,
			"f [==========          ]  50% 5.0 MiB / 10.0 MiB  " +
				"2.5 MiB/s  ETA 0:02"},
		{"hours", 1 << 30, 10 << 30, 400 * time.Second,
			"f [==                  ]  10% 1.0 GiB / 10.0 GiB  " +
				"2.6 MiB/s  ETA 1:00:00"},
		{"empty file", 0, 0, time.Second,
			"f [====================] 100% 0 B / 0 B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := progressLine("f", tt.done, tt.total, tt.elapsed)
			if got != tt.want {
				t.Errorf("progressLine = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTerminalReporterRender(t *testing.T) {
	start := time.Unix(1700000000, 0)
	now := start
	var out bytes.Buffer
	r := NewTerminalReporter(&out, 100, func() time.Time { return now })
	r.Begin("upload", 3, 30<<20)
	r.Update("a.bin", 0, 10<<20)
	now = now.Add(time.Second)
	r.Update("b.bin", 0, 10<<20)
	r.Update("a.bin", 4<<20, 10<<20)
	r.Update("b.bin", 2<<20, 10<<20)
	r.Done("c.bin", nil) // a file that never reported progress
	now = now.Add(time.Second)

	r.mu.Lock()
	lines := r.render(now)
	r.mu.Unlock()
	r.End()

	// At 100 columns a file name gets 28.
	pad := strings.Repeat(" ", 28-len("a.bin"))
	want := []string{
		"  a.bin" + pad + " [========            ]  40% 4.0 MiB / " +
			"10.0 MiB  2.0 MiB/s  ETA 0:03",
		"  b.bin" + pad + " [====                ]  20% 2.0 MiB / " +
			"10.0 MiB  2.0 MiB/s  ETA 0:04",
		"upload 1/3 files [====                ]  20% 6.0 MiB / " +
			"30.0 MiB  3.0 MiB/s  ETA 0:08",
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("render =\n%q\nwant\n%q", lines, want)
	}
	if !strings.Contains(out.String(), "\x1b[") {
		t.Errorf("output has no cursor movement: %q", out.String())
	}
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }
