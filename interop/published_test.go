package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/modelgate/modelgate/publish"
)

// multipartFile is the file of publishedFiles that goes up in two
// parts, so that its ETag is not a digest of its content.
const multipartFile = "model.safetensors"

// publishedFiles returns the model that publish.Publish uploads, by
// path: a two-part multipart file, a zero-byte file and names that need
// escaping. Every file has different content, so each has its own blob
// in the client's cache.
func publishedFiles() map[string][]byte {
	big := make([]byte, publish.MinPartSize+4321)
	for i := range big {
		big[i] = byte(i*13 + i/509)
	}
	return map[string][]byte{
		"config.json":         []byte(`{"model_type": "published"}` + "\n"),
		"empty.txt":           {},
		multipartFile:         big,
		"dir with space/é.md": []byte("published non-ASCII name\n"),
	}
}

// jsPublishedEntry is a listFiles or pathsInfo entry of the published
// model, as the script reports it.
type jsPublishedEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	OID  string `json:"oid"`
	LFS  *struct {
		OID         string `json:"oid"`
		Size        int64  `json:"size"`
		PointerSize int    `json:"pointerSize"`
	} `json:"lfs"`

	// LastCommit is the lastCommit.id of a pathsInfo entry.
	LastCommit string `json:"lastCommit"`
}

// jsPublished is what the script reports on the published model.
type jsPublished struct {
	ListFiles []jsPublishedEntry `json:"listFiles"`
	PathsInfo []jsPublishedEntry `json:"pathsInfo"`

	// CacheDir is the cache folder of downloadFileToCacheDir.
	CacheDir string `json:"cacheDir"`

	// Cached maps each path to the file downloadFileToCacheDir returned.
	Cached map[string]string `json:"cached"`
}

// publishModel writes files, by slash-separated path, to a temporary
// folder and publishes it as model with the S3 admin's credentials. The
// smallest part size S3 allows makes files of more than 5 MiB go up as
// multipart uploads.
func publishModel(tb testing.TB, model string, files map[string][]byte) {
	tb.Helper()
	tree := fstest.MapFS{}
	for p, body := range files {
		tree[p] = &fstest.MapFile{Data: body, Mode: 0o644}
	}
	dir := tb.TempDir()
	if err := os.CopyFS(dir, tree); err != nil {
		tb.Fatalf("write model folder: %v", err)
	}

	s3 := shared.s3
	client := s3.Client(credentials.NewStaticCredentialsProvider(
		s3.AdminAccessKey, s3.AdminSecretKey, ""))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := publish.Publish(ctx, client, publish.Config{
		Bucket:    s3.Bucket,
		Root:      bucketRoot,
		Model:     model,
		Dir:       dir,
		PartSize:  publish.MinPartSize,
		Threshold: publish.MinPartSize,
	})
	if err != nil {
		tb.Fatalf("Publish(%s): %v", model, err)
	}
	if res.Uploaded != len(files) || !res.ManifestWritten {
		tb.Fatalf("Publish(%s) uploaded %d files, manifest written %v; "+
			"want %d, true", model, res.Uploaded, res.ManifestWritten,
			len(files))
	}
}

// requireModel fails the test unless the gateway at base lists model.
func requireModel(tb testing.TB, base, model string) {
	tb.Helper()
	r := send(tb, http.MethodGet, base+"/api/models/"+model)
	if r.status != http.StatusOK {
		tb.Fatalf("GET /api/models/%s: status %d, want 200: %s", model,
			r.status, r.body)
	}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkPublished checks what the client reported on the published
// model.
func checkPublished(t *testing.T, p jsPublished, model string,
	files map[string][]byte,
) {
	t.Helper()
	t.Run("listFiles", func(t *testing.T) {
		checkMultipartETag(t, p.ListFiles)
		checkPublishedLFS(t, "listFiles", p.ListFiles, files)
	})
	t.Run("pathsInfo", func(t *testing.T) {
		checkPublishedLFS(t, "pathsInfo", p.PathsInfo, files)
		for _, e := range p.PathsInfo {
			if !commitPattern.MatchString(e.LastCommit) {
				t.Errorf("pathsInfo: %s: lastCommit.id = %q, want 40 "+
					"lower-case hex", e.Path, e.LastCommit)
			}
		}
	})
	t.Run("downloadFileToCacheDir", func(t *testing.T) {
		checkCachedBlobs(t, p, model, files)
	})
}

// checkPublishedLFS checks that every file entry carries an lfs object
// with the SHA-256 and size of the uploaded file, that no directory
// entry carries one, and that entries cover exactly the files.
func checkPublishedLFS(tb testing.TB, what string,
	entries []jsPublishedEntry, files map[string][]byte,
) {
	tb.Helper()
	var paths []string
	for _, e := range entries {
		if e.Type == "directory" {
			if e.LFS != nil {
				tb.Errorf("%s: directory %s has lfs %+v, want none", what,
					e.Path, *e.LFS)
			}
			continue
		}
		paths = append(paths, e.Path)
		body, ok := files[e.Path]
		if !ok {
			tb.Errorf("%s has %q, which was never published", what, e.Path)
			continue
		}
		if e.Size != int64(len(body)) {
			tb.Errorf("%s: %s: size = %d, want %d", what, e.Path, e.Size,
				len(body))
		}
		if e.LFS == nil {
			tb.Errorf("%s: %s has no lfs", what, e.Path)
			continue
		}
		if want := hexSHA256(body); e.LFS.OID != want {
			tb.Errorf("%s: %s: lfs.oid = %q, want SHA-256 %q", what,
				e.Path, e.LFS.OID, want)
		}
		if e.LFS.Size != int64(len(body)) {
			tb.Errorf("%s: %s: lfs.size = %d, want %d", what, e.Path,
				e.LFS.Size, len(body))
		}
	}
	slices.Sort(paths)
	if want := slices.Sorted(maps.Keys(files)); !slices.Equal(paths, want) {
		tb.Errorf("%s files = %q, want %q", what, paths, want)
	}
}

// checkMultipartETag checks that the listing's git oid of
// multipartFile, which is its S3 ETag, is that of a two-part upload.
// Such an ETag is no digest of the content, so a matching lfs.oid can
// only come from the manifest.
func checkMultipartETag(tb testing.TB, entries []jsPublishedEntry) {
	tb.Helper()
	for _, e := range entries {
		if e.Path == multipartFile {
			if !strings.HasSuffix(e.OID, "-2") {
				tb.Errorf("%s: oid = %q, want the ETag of a two-part "+
					"upload", e.Path, e.OID)
			}
			return
		}
	}
	tb.Errorf("listFiles lacks %s", multipartFile)
}

// checkCachedBlobs checks that downloadFileToCacheDir stored each file
// as a blob named after its SHA-256, with the uploaded content, behind
// a link at snapshots/COMMIT/PATH, where COMMIT is the lastCommit.id of
// paths-info, and that the cache contains no other blob.
func checkCachedBlobs(tb testing.TB, p jsPublished, model string,
	files map[string][]byte,
) {
	tb.Helper()
	// The client's cache layout: models--ORG--NAME/{blobs,snapshots}.
	repoDir := filepath.Join(p.CacheDir,
		"models--"+strings.ReplaceAll(model, "/", "--"))
	commits := map[string]string{}
	for _, e := range p.PathsInfo {
		commits[e.Path] = e.LastCommit
	}

	for path, body := range files {
		blob := filepath.Join(repoDir, "blobs", hexSHA256(body))
		checkFile(tb, blob, body)
		link := filepath.Join(repoDir, "snapshots", commits[path],
			filepath.FromSlash(path))
		if got := p.Cached[path]; got != link {
			tb.Errorf("downloadFileToCacheDir(%s) = %q, want %q", path,
				got, link)
		}
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			tb.Errorf("resolve %s: %v", link, err)
			continue
		}
		want, err := filepath.EvalSymlinks(blob)
		if err != nil {
			continue // checkFile reported the missing blob
		}
		if target != want {
			tb.Errorf("%s links to %s, want %s", link, target, want)
		}
	}

	dirEntries, err := os.ReadDir(filepath.Join(repoDir, "blobs"))
	if err != nil {
		tb.Fatalf("read blobs: %v", err)
	}
	var blobs, want []string
	for _, d := range dirEntries {
		blobs = append(blobs, d.Name())
	}
	for _, body := range files {
		want = append(want, hexSHA256(body))
	}
	slices.Sort(want)
	if !slices.Equal(blobs, want) {
		tb.Errorf("blobs = %q, want the SHA-256 names %q", blobs, want)
	}
}
