package catalog

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fakeLister serves a fixed key list in pages, like ListObjectsV2, and
// the objects in bodies through GetObject.
type fakeLister struct {
	keys     []string
	pageSize int
	calls    atomic.Int64

	// bodies holds the content of some keys. Those are listed with the
	// body's size and its MD5 as ETag; other keys with the key's length
	// and key+"-etag".
	bodies map[string][]byte
	// gets counts GetObject calls.
	gets atomic.Int64
	// getErr, when set, fails every GetObject call.
	getErr error

	// fail, when set, returns an error for the page with that index.
	fail func(page int) error
	// token, when set, overrides the continuation token of a page.
	token func(page int) string
	// gate, when set, blocks each call until it is closed.
	gate chan struct{}
}

func (f *fakeLister) ListObjectsV2(ctx context.Context,
	in *s3.ListObjectsV2Input, _ ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	page := 0
	if in.ContinuationToken != nil {
		page, _ = strconv.Atoi(*in.ContinuationToken)
	}
	if f.fail != nil {
		if err := f.fail(page); err != nil {
			return nil, err
		}
	}

	start := page * f.pageSize
	end := min(start+f.pageSize, len(f.keys))
	out := &s3.ListObjectsV2Output{}
	for _, k := range f.keys[start:end] {
		size, etag := f.stat(k)
		out.Contents = append(out.Contents, types.Object{
			Key:          aws.String(k),
			Size:         aws.Int64(size),
			ETag:         aws.String(`"` + etag + `"`),
			LastModified: aws.Time(time.Unix(1700000000, 0)),
		})
	}
	if end < len(f.keys) {
		next := strconv.Itoa(page + 1)
		if f.token != nil {
			next = f.token(page)
		}
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(next)
	}
	return out, nil
}

// stat returns the size and unquoted ETag that key is listed with.
func (f *fakeLister) stat(key string) (int64, string) {
	if body, ok := f.bodies[key]; ok {
		sum := md5.Sum(body)
		return int64(len(body)), hex.EncodeToString(sum[:])
	}
	return int64(len(key)), key + "-etag"
}

func (f *fakeLister) GetObject(ctx context.Context, in *s3.GetObjectInput,
	_ ...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	f.gets.Add(1)
	if f.getErr != nil {
		return nil, f.getErr
	}
	body, ok := f.bodies[aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{}
	}
	_, etag := f.stat(aws.ToString(in.Key))
	return &s3.GetObjectOutput{
		Body: io.NopCloser(bytes.NewReader(body)),
		ETag: aws.String(`"` + etag + `"`),
	}, nil
}

func newTestCatalog(tb testing.TB, f *fakeLister, root string) *Catalog {
	tb.Helper()
	c, err := New(f, Config{Bucket: "models", Root: root})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func TestSnapshotGroupsModels(t *testing.T) {
	f := &fakeLister{pageSize: 2, keys: []string{
		"acme/tiny/config.json",
		"acme/tiny/sub/",
		"acme/tiny/sub/vocab.txt",
		"acme/tiny/weights.bin",
		"beta/big/a b+c (1)=%é.txt",
		"README.md",
		"acme/only-two",
		"acme/x/../escape",
		"acme//empty-name",
		"api/models/config.json",
		"-/static/style.css",
	}}
	c := newTestCatalog(t, f, "")
	s, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}

	if got := len(s.Models()); got != 2 {
		t.Fatalf("models = %d, want 2", got)
	}
	if s.Objects != 4 {
		t.Errorf("Objects = %d, want 4", s.Objects)
	}
	if s.Skipped != 7 {
		t.Errorf("Skipped = %d, want 7", s.Skipped)
	}
	for _, id := range []string{"api/models", "-/static"} {
		if _, ok := s.Model(id); ok {
			t.Errorf("Model(%q) found a model with a reserved id", id)
		}
	}
	m, ok := s.Model("acme/tiny")
	if !ok {
		t.Fatal(`Model("acme/tiny") not found`)
	}
	var paths []string
	for _, f := range m.Files() {
		paths = append(paths, f.Path)
	}
	want := "[config.json sub/vocab.txt weights.bin]"
	if fmt.Sprint(paths) != want {
		t.Errorf("paths = %v, want %s", paths, want)
	}
	file, ok := m.File("sub/vocab.txt")
	if !ok || file.Key != "acme/tiny/sub/vocab.txt" {
		t.Errorf("File(sub/vocab.txt) = %+v, %v", file, ok)
	}
	if file.ETag != "acme/tiny/sub/vocab.txt-etag" {
		t.Errorf("ETag = %q, want quotes stripped", file.ETag)
	}
	if !m.Dir("sub") || m.Dir("su") || m.Dir("config.json") {
		t.Errorf("Dir answers wrong for sub, su or config.json")
	}
	if _, ok := m.File("sub"); ok {
		t.Errorf(`File("sub") found a directory marker`)
	}
	if got := f.calls.Load(); got != 6 {
		t.Errorf("ListObjectsV2 calls = %d, want 6 pages", got)
	}
}

func TestSnapshotRootPrefix(t *testing.T) {
	f := &fakeLister{pageSize: 10, keys: []string{
		"weights/acme/tiny/config.json",
		"other/acme/tiny/config.json",
	}}
	c := newTestCatalog(t, f, "weights")
	s, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	m, ok := s.Model("acme/tiny")
	if !ok || m.NumFiles() != 1 {
		t.Fatalf("Model(acme/tiny) = %+v, %v", m, ok)
	}
	if m.Prefix != "weights/acme/tiny/" {
		t.Errorf("Prefix = %q, want weights/acme/tiny/", m.Prefix)
	}
	if s.Skipped != 1 {
		t.Errorf("Skipped = %d, want 1", s.Skipped)
	}
}

func TestReserved(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"api/models", true},
		{"api/x", true},
		{"-/static", true},
		{"acme/api", false},
		{"API/models", false},
		{"-/other", false},
		{"static/-", false},
		{"apis/x", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := Reserved(tt.id); got != tt.want {
				t.Errorf("Reserved(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestCommitID(t *testing.T) {
	keys := []string{"acme/tiny/b", "acme/tiny/a"}
	s1 := mustSnapshot(t, keys)
	s2 := mustSnapshot(t, []string{"acme/tiny/a", "acme/tiny/b"})
	m1, _ := s1.Model("acme/tiny")
	m2, _ := s2.Model("acme/tiny")

	if len(m1.Commit) != 40 {
		t.Fatalf("Commit = %q, want 40 hex characters", m1.Commit)
	}
	for _, c := range m1.Commit {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			t.Fatalf("Commit = %q, want lowercase hex", m1.Commit)
		}
	}
	if m1.Commit != m2.Commit {
		t.Errorf("commit depends on listing order: %s vs %s",
			m1.Commit, m2.Commit)
	}
	h := sha1.New()
	for _, k := range []string{"acme/tiny/a", "acme/tiny/b"} {
		fmt.Fprintf(h, "%s\x00%d\x00%s\n", strings.TrimPrefix(k,
			"acme/tiny/"), len(k), k+"-etag")
	}
	if want := hex.EncodeToString(h.Sum(nil)); m1.Commit != want {
		t.Errorf("Commit = %s, want %s, the SHA-1 of the file lines",
			m1.Commit, want)
	}

	s3 := mustSnapshot(t, []string{"acme/tiny/a", "acme/tiny/bb"})
	m3, _ := s3.Model("acme/tiny")
	if m3.Commit == m1.Commit {
		t.Errorf("commit unchanged after a file changed")
	}
}

func mustSnapshot(tb testing.TB, keys []string) *Snapshot {
	tb.Helper()
	c := newTestCatalog(tb, &fakeLister{pageSize: 1000, keys: keys}, "")
	s, err := c.Snapshot(context.Background())
	if err != nil {
		tb.Fatalf("Snapshot: %v", err)
	}
	return s
}

func TestRefreshRepeatedToken(t *testing.T) {
	f := &fakeLister{pageSize: 1, keys: []string{
		"a/b/1", "a/b/2", "a/b/3",
	}}
	f.token = func(int) string { return "same" }
	c := newTestCatalog(t, f, "")

	_, err := c.Refresh(context.Background())
	if !errors.Is(err, ErrRepeatedToken) {
		t.Fatalf("Refresh error = %v, want ErrRepeatedToken", err)
	}
	if c.Current() != nil {
		t.Errorf("a looping listing published a snapshot")
	}
}

func TestFailedRefreshKeepsLastGood(t *testing.T) {
	f := &fakeLister{pageSize: 1, keys: []string{
		"a/b/1", "a/b/2", "a/b/3",
	}}
	var failures atomic.Int64
	c, err := New(f, Config{
		Bucket: "models",
		OnRefresh: func(_ *Snapshot, err error) {
			if err != nil {
				failures.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	good, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatalf("first Refresh: %v", err)
	}

	// The second listing fails on its last page, after two good pages.
	f.keys = append(f.keys, "a/b/4")
	f.fail = func(page int) error {
		if page == 3 {
			return errors.New("connection reset")
		}
		return nil
	}
	if _, err := c.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded, want the injected failure")
	}
	if c.Current() != good {
		t.Errorf("a partial listing replaced the complete snapshot")
	}
	if failures.Load() != 1 {
		t.Errorf("OnRefresh saw %d failures, want 1", failures.Load())
	}
}

func TestRefreshFailureLogMessage(t *testing.T) {
	f := &fakeLister{pageSize: 10, keys: []string{"a/b/1"}}
	var logs bytes.Buffer
	c, err := New(f, Config{Bucket: "models",
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const noCatalog = "no catalog is loaded yet"
	const lastGood = "serving the last good catalog"

	f.fail = func(int) error { return errors.New("connection refused") }
	if _, err := c.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded, want the injected failure")
	}
	if got := logs.String(); !strings.Contains(got, noCatalog) ||
		strings.Contains(got, lastGood) {
		t.Errorf("log before any listing = %q, want %q and not %q",
			got, noCatalog, lastGood)
	}

	f.fail = nil
	if _, err := c.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	logs.Reset()
	f.fail = func(int) error { return errors.New("connection reset") }
	if _, err := c.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh succeeded, want the injected failure")
	}
	if got := logs.String(); !strings.Contains(got, lastGood) {
		t.Errorf("log after a good listing = %q, want %q", got, lastGood)
	}
}

func TestColdSnapshotListsOnce(t *testing.T) {
	f := &fakeLister{pageSize: 1000, keys: []string{"a/b/c"},
		gate: make(chan struct{})}
	c := newTestCatalog(t, f, "")

	const callers = 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			_, err := c.Snapshot(context.Background())
			errs <- err
		})
	}
	// Let every caller reach the catalog before the listing returns.
	for f.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(f.gate)
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
	}
	if got := f.calls.Load(); got != 1 {
		t.Errorf("ListObjectsV2 calls = %d, want 1", got)
	}
}

func TestModelsAfter(t *testing.T) {
	s := mustSnapshot(t, []string{"a/a/f", "a/b/f", "b/a/f", "c/c/f"})
	var ids []string
	for _, m := range s.ModelsAfter("a/b", 2) {
		ids = append(ids, m.ID)
	}
	if fmt.Sprint(ids) != "[b/a c/c]" {
		t.Errorf("ModelsAfter(a/b, 2) = %v, want [b/a c/c]", ids)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no bucket", Config{}},
		{"negative interval", Config{Bucket: "b", Interval: -1}},
		{"negative timeout", Config{Bucket: "b", ListTimeout: -1}},
		{"page too big", Config{Bucket: "b", PageSize: 1001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err == nil {
				t.Errorf("Validate(%+v) = nil, want an error", tt.cfg)
			}
		})
	}
}
