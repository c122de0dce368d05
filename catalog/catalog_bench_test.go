package catalog

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Size of the benchmark bucket: 1,000 models of 100 files each.
const (
	benchModels        = 1000
	benchFilesPerModel = 100
	benchObjects       = benchModels * benchFilesPerModel
)

// benchModelID returns the id of model m of the benchmark bucket, such
// as "org-012/model-0345".
func benchModelID(m int) string {
	return fmt.Sprintf("org-%03d/model-%04d", m/20, m)
}

// benchFilePath returns the path of file f of a benchmark model, such as
// "model-00042-of-00100.safetensors", the naming of sharded weights.
func benchFilePath(f int) string {
	return fmt.Sprintf("model-%05d-of-%05d.safetensors", f+1,
		benchFilesPerModel)
}

// benchObject returns file f of model m as the listing shows it.
func benchObject(m, f int) types.Object {
	key := benchModelID(m) + "/" + benchFilePath(f)
	return types.Object{
		Key:          aws.String(key),
		Size:         aws.Int64(int64(5<<30 + m*benchFilesPerModel + f)),
		ETag:         aws.String(`"` + benchETag(key) + `"`),
		LastModified: aws.Time(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)),
	}
}

// benchETag returns the unquoted ETag of the object at key: the MD5 of
// the key, 32 hex digits like the ETag of a single-part upload.
func benchETag(key string) string {
	sum := md5.Sum([]byte(key))
	return hex.EncodeToString(sum[:])
}

// generatedLister lists the benchmark bucket in pages of MaxKeys keys.
// It builds every key and ETag afresh for each page, as the SDK's
// response decoder does, so that a snapshot's memory includes its
// strings. With manifests set, every model also has a manifest that
// vouches for all its files.
type generatedLister struct {
	manifests bool
}

// keysPerModel returns the number of keys listed per model.
func (g generatedLister) keysPerModel() int {
	if g.manifests {
		return benchFilesPerModel + 1
	}
	return benchFilesPerModel
}

func (g generatedLister) ListObjectsV2(ctx context.Context,
	in *s3.ListObjectsV2Input, _ ...func(*s3.Options),
) (*s3.ListObjectsV2Output, error) {
	start := 0
	if in.ContinuationToken != nil {
		var err error
		start, err = strconv.Atoi(*in.ContinuationToken)
		if err != nil {
			return nil, fmt.Errorf("continuation token %q: %w",
				*in.ContinuationToken, err)
		}
	}
	total := benchModels * g.keysPerModel()
	end := min(start+int(aws.ToInt32(in.MaxKeys)), total)

	out := &s3.ListObjectsV2Output{
		Contents: make([]types.Object, 0, end-start),
	}
	for i := start; i < end; i++ {
		out.Contents = append(out.Contents, g.object(i))
	}
	if end < total {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// object returns the listing's key number i. A model's manifest comes
// first, because ".modelgate/" sorts before "model-".
func (g generatedLister) object(i int) types.Object {
	m, k := i/g.keysPerModel(), i%g.keysPerModel()
	if !g.manifests {
		return benchObject(m, k)
	}
	if k > 0 {
		return benchObject(m, k-1)
	}
	key := benchModelID(m) + "/" + ManifestPath
	return types.Object{
		Key:          aws.String(key),
		Size:         aws.Int64(0), // the catalog ignores it
		ETag:         aws.String(`"` + benchETag(key) + `"`),
		LastModified: aws.Time(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)),
	}
}

// GetObject returns a model's manifest, which lists every file with
// the SHA-256 of its key, a stand-in for the content's.
func (g generatedLister) GetObject(ctx context.Context,
	in *s3.GetObjectInput, _ ...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	key := aws.ToString(in.Key)
	var m int
	id, ok := strings.CutSuffix(key, "/"+ManifestPath)
	if _, err := fmt.Sscanf(id[strings.Index(id, "/")+1:], "model-%d",
		&m); !g.manifests || !ok || err != nil {
		return nil, fmt.Errorf("GetObject %s: no such benchmark "+
			"manifest", key)
	}
	man := Manifest{Format: ManifestFormat, Model: id}
	for f := range benchFilesPerModel {
		o := benchObject(m, f)
		sum := sha256.Sum256([]byte(*o.Key))
		man.Files = append(man.Files, ManifestFile{
			Path: benchFilePath(f), Size: *o.Size,
			ETag:   strings.Trim(*o.ETag, `"`),
			SHA256: hex.EncodeToString(sum[:]),
		})
	}
	data, err := man.Marshal()
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{
		Body: io.NopCloser(bytes.NewReader(data)),
		ETag: aws.String(`"` + benchETag(key) + `"`),
	}, nil
}

// loadBench lists the benchmark bucket through a new catalog and
// returns the catalog, which keeps the parsed manifests, and its
// snapshot.
func loadBench(tb testing.TB, g generatedLister) (*Catalog, *Snapshot) {
	tb.Helper()
	c, err := New(g, Config{Bucket: "models"})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	snap, err := c.Refresh(context.Background())
	if err != nil {
		tb.Fatalf("Refresh: %v", err)
	}
	if snap.Objects != benchObjects {
		tb.Fatalf("snapshot has %d objects, want %d", snap.Objects,
			benchObjects)
	}
	if g.manifests && snap.Verified != benchObjects {
		tb.Fatalf("snapshot has %d verified objects, want %d",
			snap.Verified, benchObjects)
	}
	return c, snap
}

// loadBenchSnapshot lists the benchmark bucket into a new snapshot.
func loadBenchSnapshot(tb testing.TB) *Snapshot {
	tb.Helper()
	_, snap := loadBench(tb, generatedLister{})
	return snap
}

// benchTarget is a file that a lookup benchmark looks for.
type benchTarget struct{ model, path string }

// benchTargets returns 4096 files of the benchmark bucket at random.
func benchTargets() []benchTarget {
	targets := make([]benchTarget, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range targets {
		targets[i] = benchTarget{
			model: benchModelID(rng.IntN(benchModels)),
			path:  benchFilePath(rng.IntN(benchFilesPerModel)),
		}
	}
	return targets
}

// BenchmarkLookup measures the lookup of one file of a 100,000-object
// snapshot: the model by id, then the file by path, as a download does.
func BenchmarkLookup(b *testing.B) {
	snap := loadBenchSnapshot(b)
	targets := benchTargets()

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := targets[i%len(targets)]
		i++
		m, ok := snap.Model(t.model)
		if !ok {
			b.Fatalf("Model(%q) not found", t.model)
		}
		if _, ok := m.File(t.path); !ok {
			b.Fatalf("File(%q) not found in %s", t.path, t.model)
		}
	}
}

// BenchmarkModelFile measures Model.File alone, on models of a
// 100,000-object snapshot taken at random.
func BenchmarkModelFile(b *testing.B) {
	snap := loadBenchSnapshot(b)
	type target struct {
		model *Model
		path  string
	}
	var targets []target
	for _, t := range benchTargets() {
		m, ok := snap.Model(t.model)
		if !ok {
			b.Fatalf("Model(%q) not found", t.model)
		}
		targets = append(targets, target{m, t.path})
	}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := targets[i%len(targets)]
		i++
		if _, ok := t.model.File(t.path); !ok {
			b.Fatalf("File(%q) not found in %s", t.path, t.model.ID)
		}
	}
}

// BenchmarkSnapshotMemory measures the live heap that a 100,000-object
// snapshot holds, indexes and strings included, as bytes/object. Each
// iteration builds a snapshot and compares the heap after a full
// collection with the heap before it. The ns/op figure is the time to
// list and build the whole snapshot.
func BenchmarkSnapshotMemory(b *testing.B) {
	benchMemory(b, generatedLister{})
}

// BenchmarkManifestMemory is BenchmarkSnapshotMemory with a manifest in
// every model: the heap includes the catalog's parsed manifests, and
// the time includes reading and parsing them.
func BenchmarkManifestMemory(b *testing.B) {
	benchMemory(b, generatedLister{manifests: true})
}

func benchMemory(b *testing.B, g generatedLister) {
	var total uint64
	for b.Loop() {
		total += catalogHeapBytes(b, g)
	}
	b.ReportMetric(float64(total)/float64(b.N)/benchObjects,
		"bytes/object")
}

// catalogHeapBytes returns the growth of the live heap caused by
// building one benchmark catalog and keeping it and its snapshot.
func catalogHeapBytes(tb testing.TB, g generatedLister) uint64 {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	c, snap := loadBench(tb, g)

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	runtime.KeepAlive(snap)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}

// BenchmarkGC measures one full garbage collection (runtime.GC) of the
// benchmark process: without a catalog, and with a 100,000-object
// snapshot alive. The difference is the collector's work for the
// snapshot. Beside the time, which varies with the load on the
// machine, it reports the live heap and the part of it that the
// collector scans for pointers, both after the last collection.
func BenchmarkGC(b *testing.B) {
	b.Run("empty", func(b *testing.B) {
		benchGC(b)
	})
	b.Run("snapshot", func(b *testing.B) {
		snap := loadBenchSnapshot(b)
		benchGC(b)
		runtime.KeepAlive(snap)
	})
}

func benchGC(b *testing.B) {
	runtime.GC()
	for b.Loop() {
		runtime.GC()
	}
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/heap:bytes"},
	}
	metrics.Read(samples)
	for i, unit := range []string{"live-B", "scan-B"} {
		if samples[i].Value.Kind() != metrics.KindUint64 {
			b.Fatalf("runtime metric %s is not supported",
				samples[i].Name)
		}
		b.ReportMetric(float64(samples[i].Value.Uint64()), unit)
	}
}
