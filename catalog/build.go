package catalog

import (
	"crypto/sha1"
	"encoding/hex"
	"hash/maphash"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Object is one entry of a bucket listing.
type Object struct {
	Key      string
	Size     int64
	ETag     string
	Modified time.Time
}

// maxBlobSize is the maximum size of a model's blob of keys and ETags,
// because a record addresses the blob with uint32 offsets.
const maxBlobSize = math.MaxUint32

// builder groups listed objects into models.
type builder struct {
	root      string
	byID      map[string]*pendingModel
	manifests map[string]Object // manifest objects by model id
	skipped   int
	objects   int
}

// pendingModel is a model whose objects are still being listed.
type pendingModel struct {
	prefixLen int
	files     []listedFile
	blobSize  int64 // total length of the keys and quoted ETags
}

// listedFile is one object of a pendingModel.
type listedFile struct {
	key, etag string
	size      int64
	modified  int64 // Unix milliseconds
}

func newBuilder(root string) *builder {
	return &builder{root: root, byID: make(map[string]*pendingModel),
		manifests: make(map[string]Object)}
}

// add files the object under its model, or counts it as skipped when it
// belongs to none.
func (b *builder) add(o Object) {
	rel, ok := strings.CutPrefix(o.Key, b.root)
	if !ok || strings.HasSuffix(rel, "/") {
		b.skipped++
		return
	}
	org, rest, ok1 := strings.Cut(rel, "/")
	name, path, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 || !ValidSegment(org) || !ValidSegment(name) ||
		!ValidPath(path) {
		b.skipped++
		return
	}

	prefixLen := len(b.root) + len(org) + 1 + len(name) + 1
	id := o.Key[len(b.root) : prefixLen-1]
	if Reserved(id) {
		b.skipped++
		return
	}
	if inManifestDir(path) {
		if path == ManifestPath {
			b.manifests[id] = o
		}
		b.skipped++
		return
	}
	b.addFile(id, prefixLen, listedFile{
		key:      o.Key,
		etag:     strings.Trim(o.ETag, `"`),
		size:     o.Size,
		modified: o.Modified.UnixMilli(),
	})
}

// addFile appends f to the model id, or counts it as skipped when its
// key and ETag would grow the model's blob past maxBlobSize.
func (b *builder) addFile(id string, prefixLen int, f listedFile) {
	m := b.byID[id]
	size := int64(len(f.key) + len(f.etag) + 2)
	if m != nil {
		size += m.blobSize
	}
	if size > maxBlobSize {
		b.skipped++
		return
	}
	if m == nil {
		m = &pendingModel{prefixLen: prefixLen}
		b.byID[id] = m
	}
	m.blobSize = size
	m.files = append(m.files, f)
	b.objects++
}

// snapshot packs every model and returns the result.
func (b *builder) snapshot(loaded time.Time) *Snapshot {
	s := &Snapshot{
		byID:    make(map[string]*Model, len(b.byID)),
		models:  make([]*Model, 0, len(b.byID)),
		Loaded:  loaded,
		Objects: b.objects,
		Skipped: b.skipped,
	}
	seed := maphash.MakeSeed()
	for _, p := range b.byID {
		m := p.pack(len(b.root), seed)
		s.byID[m.ID] = m
		s.models = append(s.models, m)
	}
	sort.Slice(s.models, func(i, j int) bool {
		return s.models[i].ID < s.models[j].ID
	})
	return s
}

// pack sorts the files by path and builds the model: one blob of keys
// and ETags, the records that point into it, the totals and the commit
// id. The model's ID and Prefix are substrings of the blob, so the
// listing's strings can be freed.
func (p *pendingModel) pack(rootLen int, seed maphash.Seed) *Model {
	slices.SortFunc(p.files, func(a, b listedFile) int {
		return strings.Compare(a.key[p.prefixLen:], b.key[p.prefixLen:])
	})
	var blob strings.Builder
	blob.Grow(int(p.blobSize))
	records := make([]record, len(p.files))
	for i, f := range p.files {
		records[i] = record{
			key:      uint32(blob.Len()),
			keyLen:   uint32(len(f.key)),
			etagLen:  uint32(len(f.etag)),
			sha256:   -1,
			size:     f.size,
			modified: f.modified,
		}
		blob.WriteString(f.key)
		blob.WriteByte('"')
		blob.WriteString(f.etag)
		blob.WriteByte('"')
	}

	m := &Model{blob: blob.String(), records: records}
	m.Prefix = m.blob[:p.prefixLen]
	m.ID = m.Prefix[rootLen : p.prefixLen-1]
	m.finish()
	m.buildIndex(seed)
	return m
}

// finish computes the model's totals and commit id from its sorted
// files.
func (m *Model) finish() {
	h := sha1.New()
	var buf []byte
	for _, f := range m.Files() {
		m.Size += f.Size
		m.modified = max(m.modified, f.modified)

		buf = append(buf[:0], f.Path...)
		buf = append(buf, 0)
		buf = strconv.AppendInt(buf, f.Size, 10)
		buf = append(buf, 0)
		buf = append(buf, f.ETag...)
		buf = append(buf, '\n')
		h.Write(buf)
	}
	m.Commit = hex.EncodeToString(h.Sum(nil))
}

// ReservedOrg is the organisation that the gateway's JSON API occupies:
// its routes start with "/api/", so the pages and downloads of models
// named "api/..." could not be reached.
const ReservedOrg = "api"

// ReservedModel is the model id whose path the HTML pages' assets
// occupy: they are served under "/-/static/".
const ReservedModel = "-/static"

// Reserved reports whether the model id "org/name" collides with one of
// the gateway's fixed routes: any model of the organisation ReservedOrg,
// and the model ReservedModel. The catalog skips the objects of such
// models, and publish rejects their ids.
func Reserved(id string) bool {
	org, _, _ := strings.Cut(id, "/")
	return org == ReservedOrg || id == ReservedModel
}

// ValidSegment reports whether s can be one segment of a model id or file
// path: not empty, not "." or "..", and free of slashes, backslashes and
// control characters.
func ValidSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '/' || c == '\\' {
			return false
		}
	}
	return true
}

// ValidPath reports whether p is a file path made of valid segments
// joined by single slashes.
func ValidPath(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if !ValidSegment(seg) {
			return false
		}
	}
	return true
}
