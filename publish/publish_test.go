package publish_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/publish"
)

// modelFiles is a model with a multipart-sized file, nested folders, a
// zero-byte file, a hidden file and a name that needs escaping.
func modelFiles() map[string][]byte {
	return map[string][]byte{
		"config.json":             []byte(`{"model_type":"tiny"}`),
		"weights/model.bin":       randomBytes(12<<20 + 123),
		"nested/deep/dir/tok.txt": []byte("hello tokens\n"),
		"empty.txt":               {},
		".gitattributes":          []byte("*.bin filter=lfs\n"),
		"notes/naïve café.txt":    []byte("unicode name"),
	}
}

func TestPublishServesVerifiedDownloads(t *testing.T) {
	const model = "acme/verified"
	dir := t.TempDir()
	files := modelFiles()
	writeFiles(t, dir, files)
	writeFiles(t, dir, map[string][]byte{".git/HEAD": []byte("ref\n")})

	res := mustPublish(t, adminClient(), testConfig(model, dir))
	if res.Uploaded != len(files) || !res.ManifestWritten {
		t.Fatalf("Publish uploaded %d files, manifest written %v; "+
			"want %d, true", res.Uploaded, res.ManifestWritten, len(files))
	}
	if len(res.Ignored) != 1 || res.Ignored[0].Path != ".git/" {
		t.Errorf("Ignored = %+v, want .git/", res.Ignored)
	}
	etag := bucketListing(t)[model+"/weights/model.bin"]
	if !strings.HasSuffix(etag, `-3"`) {
		t.Errorf("ETag of the 12 MiB file = %s, want a 3-part "+
			"multipart ETag", etag)
	}

	g := newGateway(t)
	m, ok := g.refresh(t).Model(model)
	if !ok {
		t.Fatalf("catalog has no model %s", model)
	}
	verified := 0
	for _, f := range m.Files() {
		if _, ok := f.SHA256(); ok {
			verified++
		}
	}
	if verified != len(files) || m.NumFiles() != len(files) {
		t.Errorf("catalog lists %d files, %d with SHA-256; want %d, all",
			m.NumFiles(), verified, len(files))
	}
	tree := g.tree(t, model)
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	info := g.pathsInfo(t, model, paths)

	for p, content := range files {
		t.Run(p, func(t *testing.T) {
			want := hexSHA256(content)
			checkLFS(t, "tree", tree[p], want, len(content))
			checkLFS(t, "paths-info", info[p], want, len(content))

			body, digest := g.download(t, model, p)
			if got := hexSHA256(body); got != want {
				t.Errorf("downloaded SHA-256 = %s, want %s", got, want)
			}
			if digest != reprDigest(body) {
				t.Errorf("GET Repr-Digest = %q, want %q of the body",
					digest, reprDigest(body))
			}
			if got := g.head(t, model, p); got != reprDigest(content) {
				t.Errorf("HEAD Repr-Digest = %q, want %q", got,
					reprDigest(content))
			}
		})
	}
}

// checkLFS checks the lfs object of a tree or paths-info entry.
func checkLFS(t *testing.T, what string, e treeEntry, oid string,
	size int,
) {
	t.Helper()
	switch {
	case e.LFS == nil:
		t.Errorf("%s entry %q has no lfs", what, e.Path)
	case e.LFS.OID != oid:
		t.Errorf("%s lfs.oid = %s, want %s", what, e.LFS.OID, oid)
	case e.LFS.Size != int64(size) || e.LFS.PointerSize <= 0:
		t.Errorf("%s lfs = %+v, want size %d and a pointer size",
			what, *e.LFS, size)
	}
}

func TestPublishAgainUploadsOnlyChanges(t *testing.T) {
	const model = "acme/incremental"
	dir := t.TempDir()
	files := modelFiles()
	writeFiles(t, dir, files)
	cfg := testConfig(model, dir)
	mustPublish(t, adminClient(), cfg)
	manifestKey := model + "/" + catalog.ManifestPath
	before := bucketListing(t)

	res := mustPublish(t, adminClient(), cfg)
	if res.Uploaded != 0 || res.Skipped != len(files) ||
		res.ManifestWritten {
		t.Errorf("second Publish: uploaded %d, skipped %d, manifest "+
			"written %v; want 0, %d, false", res.Uploaded, res.Skipped,
			res.ManifestWritten, len(files))
	}
	if after := bucketListing(t); !reflect.DeepEqual(after, before) {
		t.Errorf("second Publish changed the bucket")
	}
	for _, c := range res.Changes {
		if c.Reason != "unchanged" {
			t.Errorf("second Publish: %s skipped as %q, want it "+
				"matched through the manifest", c.Path, c.Reason)
		}
	}

	// Same size, new content: only the SHA-256 reveals the change.
	changed := []byte(`{"model_type":"tin2"}`)
	writeFiles(t, dir, map[string][]byte{"config.json": changed})
	res = mustPublish(t, adminClient(), cfg)
	if res.Uploaded != 1 || actions(res)["config.json"] != publish.Upload {
		t.Errorf("Publish after one change: uploaded %d, config.json "+
			"%q; want 1, upload", res.Uploaded,
			actions(res)["config.json"])
	}
	after := bucketListing(t)
	if after[manifestKey] == before[manifestKey] || !res.ManifestWritten {
		t.Errorf("manifest not rewritten after a change")
	}
	m, err := catalog.ParseManifest(getObject(t, manifestKey))
	if err != nil {
		t.Fatalf("ParseManifest: %v", err)
	}
	for _, f := range m.Files {
		if f.Path == "config.json" && f.SHA256 != hexSHA256(changed) {
			t.Errorf("manifest SHA-256 of config.json = %s, want %s",
				f.SHA256, hexSHA256(changed))
		}
	}

	g := newGateway(t)
	g.refresh(t)
	checkLFS(t, "tree", g.tree(t, model)["config.json"],
		hexSHA256(changed), len(changed))
}

func TestPublishDryRunAndDelete(t *testing.T) {
	const model = "acme/dryrun"
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{
		"a.txt": []byte("a"), "b.txt": []byte("b")})
	cfg := testConfig(model, dir)
	mustPublish(t, adminClient(), cfg)

	if err := os.Remove(filepath.Join(dir, "b.txt")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{"c.txt": []byte("c")})
	before := bucketListing(t)

	tests := []struct {
		name   string
		delete bool
		want   map[string]publish.Action
	}{
		{"keep", false, map[string]publish.Action{
			"a.txt": publish.Skip, "b.txt": publish.Keep,
			"c.txt": publish.Upload}},
		{"delete", true, map[string]publish.Action{
			"a.txt": publish.Skip, "b.txt": publish.Delete,
			"c.txt": publish.Upload}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dry := cfg
			dry.DryRun, dry.Delete = true, tt.delete
			res := mustPublish(t, adminClient(), dry)
			if got := actions(res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("dry run plan = %v, want %v", got, tt.want)
			}
			if !reflect.DeepEqual(bucketListing(t), before) {
				t.Errorf("dry run changed the bucket")
			}
		})
	}

	cfg.Delete = true
	mustPublish(t, adminClient(), cfg)
	after := bucketListing(t)
	if _, ok := after[model+"/b.txt"]; ok {
		t.Errorf("--delete left %s/b.txt", model)
	}
	if _, ok := after[model+"/c.txt"]; !ok {
		t.Errorf("%s/c.txt was not uploaded", model)
	}
}

func TestPublishRejectsReadOnlyRole(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string][]byte{"a.txt": []byte("a")})
	before := bucketListing(t)

	role := testS3.Client(testS3.RoleProvider())
	_, err := publish.Publish(testContext(t), role,
		testConfig("acme/readonly", dir))
	if !errors.Is(err, publish.ErrReadOnly) {
		t.Fatalf("Publish with the read-only role = %v, want ErrReadOnly",
			err)
	}
	if !strings.Contains(err.Error(), "read-only role cannot publish") {
		t.Errorf("error %q does not explain the read-only role", err)
	}
	if after := bucketListing(t); !reflect.DeepEqual(after, before) {
		t.Errorf("rejected Publish changed the bucket:\nbefore %v\n"+
			"after %v", before, after)
	}
}
