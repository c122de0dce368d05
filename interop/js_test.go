package interop

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// jsDir holds the JavaScript client, its lock file and the script
	// that drives it.
	jsDir = "js"

	// jsTimeout bounds one run of the script.
	jsTimeout = 3 * time.Minute

	// jsToken is the bearer token the script sends on its last
	// requests. The client requires the "hf_" prefix.
	jsToken = "hf_ModelgateInteropNotARealToken0123"

	// jsPageSize is the gateway's page size, small enough that the tree
	// listing of jsFiles needs several pages.
	jsPageSize = 3
)

// jsFiles returns the model the script downloads, by path: a zero-byte
// file, files in nested folders, a name with spaces and non-ASCII
// characters, and a file of more than 1 MB.
func jsFiles() map[string][]byte {
	big := make([]byte, 1_500_000)
	for i := range big {
		big[i] = byte(i*7 + i/251)
	}
	return map[string][]byte{
		"config.json":                []byte(`{"model_type": "tiny"}` + "\n"),
		"empty.txt":                  {},
		"model.safetensors":          big,
		"tokenizer/vocab.txt":        []byte("a\nb\nc\n"),
		"tokenizer/merges.txt":       []byte("a b\n"),
		"dir with space/naïve é.txt": []byte("non-ASCII name\n"),
		"shards/part-1.bin":          bytes.Repeat([]byte{1}, 1000),
		"shards/part-2.bin":          bytes.Repeat([]byte{2}, 1000),
		"shards/deeper/part-3.bin":   bytes.Repeat([]byte{3}, 1000),
	}
}

// jsReport is the JSON report the script writes: what each client call
// returned.
type jsReport struct {
	Version   string `json:"version"`
	ModelInfo struct {
		Name      string   `json:"name"`
		SHA       string   `json:"sha"`
		HeadSHA   string   `json:"headSha"`
		FilePaths []string `json:"filePaths"`
	} `json:"modelInfo"`
	ListFiles []struct {
		Type    string          `json:"type"`
		Path    string          `json:"path"`
		Size    int64           `json:"size"`
		OID     string          `json:"oid"`
		LFS     json.RawMessage `json:"lfs"`
		XetHash json.RawMessage `json:"xetHash"`
	} `json:"listFiles"`
	FileExists struct {
		Present bool `json:"present"`
		Missing bool `json:"missing"`
	} `json:"fileExists"`
	DownloadFile          string      `json:"downloadFile"`
	DownloadMissingIsNull bool        `json:"downloadMissingIsNull"`
	CachedFile            string      `json:"cachedFile"`
	Snapshot              string      `json:"snapshot"`
	DownloadWithToken     string      `json:"downloadWithToken"`
	FileExistsWithToken   bool        `json:"fileExistsWithToken"`
	Published             jsPublished `json:"published"`
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// TestJSClient downloads a model with @huggingface/hub through the
// gateway and checks every byte, the listings, and that the client's
// bearer token reaches the gateway but neither S3 nor the gateway's log.
// A second model, published with publish.Publish, must carry the
// SHA-256 of each file as lfs.oid, which the client names its cached
// blobs after.
func TestJSClient(t *testing.T) {
	node := requireJSClient(t)
	const model, publishedModel = "acme/tiny-model", "acme/published"
	files, published := jsFiles(), publishedFiles()
	seed(t, model, files)
	// The gateway lists the bucket before it reports ready, so it
	// starts with the manifest of the published model.
	publishModel(t, publishedModel, published)

	// S3 receives client downloads through s3Proxy. The client reaches
	// the gateway through hubProxy, which records what the gateway
	// received.
	s3Proxy := startRecordingProxy(t)
	s3Proxy.forwardTo(t, shared.s3.Endpoint)
	hubProxy := startRecordingProxy(t)
	gw := startGateway(t, gatewayOptions{
		publicURL: hubProxy.URL,
		s3Public:  s3Proxy.URL,
		extra:     []string{"--page-size", strconv.Itoa(jsPageSize)},
	})
	hubProxy.forwardTo(t, gw.URL)
	requireModel(t, hubProxy.URL, publishedModel)

	first := send(t, http.MethodGet, hubProxy.URL+"/api/models/"+model+
		"/tree/main?recursive=true&expand=false")
	if first.header.Get("Link") == "" {
		t.Fatalf("first tree page has no Link; the test needs a model " +
			"that takes several pages")
	}

	report := runJSClient(t, node, map[string]string{
		"HUB_URL":      hubProxy.URL,
		"REPO":         model,
		"FILE":         "tokenizer/vocab.txt",
		"MISSING":      "tokenizer/missing.txt",
		"ACCESS_TOKEN": jsToken,
		"PUBLISHED":    publishedModel,
	})

	t.Run("version", func(t *testing.T) {
		if want := pinnedClientVersion(t); report.Version != want {
			t.Errorf("@huggingface/hub version = %q, want %q",
				report.Version, want)
		}
	})
	t.Run("modelInfo", func(t *testing.T) {
		checkModelInfo(t, report, model, files)
	})
	t.Run("listFiles", func(t *testing.T) {
		checkListFiles(t, report, files)
	})
	t.Run("fileExists", func(t *testing.T) {
		if !report.FileExists.Present {
			t.Errorf("fileExists(present file) = false, want true")
		}
		if report.FileExists.Missing {
			t.Errorf("fileExists(missing file) = true, want false")
		}
		if !report.FileExistsWithToken {
			t.Errorf("fileExists(present file, token) = false, want true")
		}
	})
	t.Run("downloadFile", func(t *testing.T) {
		want := files["tokenizer/vocab.txt"]
		checkFile(t, report.DownloadFile, want)
		checkFile(t, report.DownloadWithToken, want)
		if !report.DownloadMissingIsNull {
			t.Errorf("downloadFile(missing file) is not null")
		}
	})
	t.Run("downloadFileToCacheDir", func(t *testing.T) {
		want := filepath.Join(report.Snapshot, "tokenizer", "vocab.txt")
		if report.CachedFile != want {
			t.Errorf("downloadFileToCacheDir = %q, want %q",
				report.CachedFile, want)
		}
		checkFile(t, report.CachedFile, files["tokenizer/vocab.txt"])
	})
	t.Run("snapshotDownload", func(t *testing.T) {
		checkSnapshot(t, report, files)
	})
	t.Run("published", func(t *testing.T) {
		checkPublished(t, report.Published, publishedModel, published)
	})
	t.Run("token", func(t *testing.T) {
		checkTokenStaysAtGateway(t, hubProxy, s3Proxy, gw)
	})
}

// requireJSClient returns the node binary, failing the test when node
// or the installed client is missing.
func requireJSClient(tb testing.TB) string {
	tb.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		tb.Fatalf("node is not installed: %v; scripts/test.sh installs it",
			err)
	}
	pkg := filepath.Join(jsDir, "node_modules", "@huggingface", "hub",
		"package.json")
	if _, err := os.Stat(pkg); err != nil {
		tb.Fatalf("@huggingface/hub is not installed (%v); run "+
			"\"npm ci --no-audit --no-fund\" in interop/js or "+
			"scripts/test.sh", err)
	}
	return node
}

// pinnedClientVersion returns the @huggingface/hub version that
// js/package.json pins.
func pinnedClientVersion(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(jsDir, "package.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		tb.Fatalf("parse js/package.json: %v", err)
	}
	return pkg.Dependencies["@huggingface/hub"]
}

// runJSClient runs js/download.mjs with env and returns its report.
func runJSClient(tb testing.TB, node string, env map[string]string) jsReport {
	tb.Helper()
	dir := tb.TempDir()
	env["CACHE_DIR"] = filepath.Join(dir, "cache")
	env["OUT_DIR"] = filepath.Join(dir, "out")
	env["REPORT"] = filepath.Join(dir, "report.json")

	ctx, cancel := context.WithTimeout(context.Background(), jsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "download.mjs")
	cmd.Dir = jsDir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("node download.mjs: %v\n%s", err, out)
	}

	b, err := os.ReadFile(env["REPORT"])
	if err != nil {
		tb.Fatalf("read report: %v\nscript output:\n%s", err, out)
	}
	var report jsReport
	if err := json.Unmarshal(b, &report); err != nil {
		tb.Fatalf("parse report: %v\n%s", err, b)
	}
	return report
}

func checkModelInfo(tb testing.TB, r jsReport, model string,
	files map[string][]byte,
) {
	tb.Helper()
	if r.ModelInfo.Name != model {
		tb.Errorf("modelInfo name = %q, want %q", r.ModelInfo.Name, model)
	}
	if !commitPattern.MatchString(r.ModelInfo.SHA) {
		tb.Errorf("modelInfo sha = %q, want 40 lower-case hex",
			r.ModelInfo.SHA)
	}
	if r.ModelInfo.HeadSHA != r.ModelInfo.SHA {
		tb.Errorf("modelInfo sha at HEAD = %q, at main = %q",
			r.ModelInfo.HeadSHA, r.ModelInfo.SHA)
	}
	got := slices.Sorted(slices.Values(r.ModelInfo.FilePaths))
	want := slices.Sorted(maps.Keys(files))
	if !slices.Equal(got, want) {
		tb.Errorf("modelInfo filePaths = %q, want %q", got, want)
	}
}

func checkListFiles(tb testing.TB, r jsReport, files map[string][]byte) {
	tb.Helper()
	var paths, dirs []string
	for _, e := range r.ListFiles {
		if len(e.LFS) != 0 || len(e.XetHash) != 0 {
			tb.Errorf("%s: lfs = %s, xetHash = %s, want neither", e.Path,
				e.LFS, e.XetHash)
		}
		switch e.Type {
		case "directory":
			dirs = append(dirs, e.Path)
			continue
		case "file":
		default:
			tb.Errorf("%s: type = %q, want file or directory", e.Path, e.Type)
			continue
		}
		paths = append(paths, e.Path)
		body, ok := files[e.Path]
		if !ok {
			tb.Errorf("listFiles has %q, which was never uploaded", e.Path)
			continue
		}
		if e.Size != int64(len(body)) {
			tb.Errorf("%s: size = %d, want %d", e.Path, e.Size, len(body))
		}
		// SeaweedFS, like S3, gives a single-part upload its MD5 as ETag.
		sum := md5.Sum(body)
		if want := hex.EncodeToString(sum[:]); e.OID != want {
			tb.Errorf("%s: oid = %q, want %q", e.Path, e.OID, want)
		}
	}
	slices.Sort(paths)
	if want := slices.Sorted(maps.Keys(files)); !slices.Equal(paths, want) {
		tb.Errorf("listFiles files = %q, want %q", paths, want)
	}
	slices.Sort(dirs)
	wantDirs := []string{"dir with space", "shards", "shards/deeper",
		"tokenizer"}
	if !slices.Equal(dirs, wantDirs) {
		tb.Errorf("listFiles directories = %q, want %q", dirs, wantDirs)
	}
}

// checkFile compares the file at path with want.
func checkFile(tb testing.TB, path string, want []byte) {
	tb.Helper()
	if path == "" {
		tb.Errorf("no file was downloaded")
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		tb.Errorf("read download: %v", err)
		return
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s: %d bytes differ from the %d uploaded", path,
			len(got), len(want))
	}
}

// checkSnapshot compares the snapshot folder, which the client names
// after the commit id, with the uploaded files, byte for byte.
func checkSnapshot(tb testing.TB, r jsReport, files map[string][]byte) {
	tb.Helper()
	if got := filepath.Base(r.Snapshot); got != r.ModelInfo.SHA {
		tb.Errorf("snapshot folder = %q, want the commit %q", got,
			r.ModelInfo.SHA)
	}
	found := map[string]bool{}
	err := filepath.WalkDir(r.Snapshot,
		func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(r.Snapshot, path)
			if err != nil {
				return err
			}
			rel = filepath.ToSlash(rel)
			found[rel] = true
			want, ok := files[rel]
			if !ok {
				tb.Errorf("snapshot has %q, which was never uploaded", rel)
				return nil
			}
			checkFile(tb, path, want)
			return nil
		})
	if err != nil {
		tb.Fatalf("walk snapshot: %v", err)
	}
	for path := range files {
		if !found[path] {
			tb.Errorf("snapshot lacks %q", path)
		}
	}
}

// checkTokenStaysAtGateway shows that the client sent its token to the
// gateway, and that neither S3 nor the gateway's log ever saw it.
func checkTokenStaysAtGateway(tb testing.TB, hub, s3 *recordingProxy,
	gw *gateway,
) {
	tb.Helper()
	withToken := 0
	for _, r := range hub.recorded() {
		if r.Header.Get("Authorization") == "Bearer "+jsToken {
			withToken++
		}
	}
	if withToken == 0 {
		tb.Fatalf("no gateway request carried the token; the checks " +
			"below would prove nothing")
	}
	tb.Logf("the gateway got %d requests, %d of them with the token",
		len(hub.recorded()), withToken)

	downloads := 0
	for _, r := range s3.recorded() {
		if auth := r.Header.Get("Authorization"); auth != "" {
			tb.Errorf("S3 got Authorization %q on %s", auth, r.URL)
		}
		if strings.Contains(r.URL, jsToken) {
			tb.Errorf("S3 got the token in the URL %s", r.URL)
		}
		for name, values := range r.Header {
			if strings.Contains(strings.Join(values, " "), jsToken) {
				tb.Errorf("S3 got the token in header %s", name)
			}
		}
		if r.Method == http.MethodGet &&
			strings.Contains(r.URL, "X-Amz-Signature=") {
			downloads++
		}
	}
	tb.Logf("S3 got %d requests, %d of them pre-signed GETs",
		len(s3.recorded()), downloads)
	// Each JavaScript download costs two S3 requests, and the script
	// downloads tokenizer/vocab.txt three times, once with the token.
	if downloads < 6 {
		tb.Errorf("S3 saw %d pre-signed GETs, want at least 6", downloads)
	}

	log := gw.Log.String()
	if strings.Contains(log, jsToken) {
		tb.Errorf("gateway log contains the token")
	}
	if !strings.Contains(log, `"msg":"request"`) {
		tb.Errorf("gateway log has no access records; the check above " +
			"proves nothing")
	}
}
