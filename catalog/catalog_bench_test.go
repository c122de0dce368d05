package catalog

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
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

// generatedLister lists the benchmark bucket in pages of MaxKeys keys.
// It builds every key and ETag afresh for each page, as the SDK's
// response decoder does, so that a snapshot's memory includes its
// strings.
type generatedLister struct{}

func (generatedLister) ListObjectsV2(ctx context.Context,
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
	end := min(start+int(aws.ToInt32(in.MaxKeys)), benchObjects)

	out := &s3.ListObjectsV2Output{
		Contents: make([]types.Object, 0, end-start),
	}
	modified := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := start; i < end; i++ {
		m, f := i/benchFilesPerModel, i%benchFilesPerModel
		key := benchModelID(m) + "/" + benchFilePath(f)
		sum := md5.Sum([]byte(key))
		out.Contents = append(out.Contents, types.Object{
			Key:          aws.String(key),
			Size:         aws.Int64(int64(5<<30 + i)),
			ETag:         aws.String(`"` + hex.EncodeToString(sum[:]) + `"`),
			LastModified: aws.Time(modified),
		})
	}
	if end < benchObjects {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// GetObject fails, because the benchmark bucket has no manifests, so
// the catalog never reads an object.
func (generatedLister) GetObject(ctx context.Context, in *s3.GetObjectInput,
	_ ...func(*s3.Options),
) (*s3.GetObjectOutput, error) {
	return nil, fmt.Errorf("GetObject %s: the benchmark bucket has no "+
		"manifests", aws.ToString(in.Key))
}

// loadBenchSnapshot lists the benchmark bucket into a new snapshot.
func loadBenchSnapshot(tb testing.TB) *Snapshot {
	tb.Helper()
	c, err := New(generatedLister{}, Config{Bucket: "models"})
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
	return snap
}

// BenchmarkLookup measures the lookup of one file of a 100,000-object
// snapshot: the model by id, then the file by path, as a download does.
func BenchmarkLookup(b *testing.B) {
	snap := loadBenchSnapshot(b)
	type target struct{ model, path string }
	targets := make([]target, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range targets {
		targets[i] = target{
			model: benchModelID(rng.IntN(benchModels)),
			path:  benchFilePath(rng.IntN(benchFilesPerModel)),
		}
	}

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

// BenchmarkSnapshotMemory measures the live heap that a 100,000-object
// snapshot holds, indexes and strings included, as bytes/object. Each
// iteration builds a snapshot and compares the heap after a full
// collection with the heap before it. The ns/op figure is the time to
// list and build the whole snapshot.
func BenchmarkSnapshotMemory(b *testing.B) {
	var total uint64
	for b.Loop() {
		total += snapshotHeapBytes(b)
	}
	b.ReportMetric(float64(total)/float64(b.N)/benchObjects,
		"bytes/object")
}

// snapshotHeapBytes returns the growth of the live heap caused by
// building one benchmark snapshot and keeping it.
func snapshotHeapBytes(tb testing.TB) uint64 {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	snap := loadBenchSnapshot(tb)

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(snap)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
