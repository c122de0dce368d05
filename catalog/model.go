package catalog

import (
	"hash/maphash"
	"iter"
	"sort"
	"strings"
	"time"
)

// File is one object of a model, a value that [Model.File],
// [Model.FileAt] and [Model.Files] build on each call. Its strings share
// the model's memory, so a File costs no allocation, and keeping one
// keeps its whole model's strings in memory.
type File struct {
	// Key is the object's key in the bucket, byte for byte as listed.
	Key string

	// Path is the file's path inside the model, a suffix of Key.
	Path string

	// Size is the object's size in bytes.
	Size int64

	// ETag is the object's entity tag without the surrounding quotes.
	ETag string

	// quotedETag is ETag in quotes, or empty for a File built elsewhere.
	quotedETag string

	// modified is the object's LastModified in Unix milliseconds.
	modified int64

	// sha256 points into the model's sums, or is nil when the manifest
	// does not vouch for the object.
	sha256 *[32]byte
}

// ModTime returns the object's last-modified time in UTC.
func (f File) ModTime() time.Time {
	return time.UnixMilli(f.modified).UTC()
}

// QuotedETag returns the ETag in double quotes, as the ETag header
// carries it. For a file of a model it shares the model's memory.
func (f File) QuotedETag() string {
	if f.quotedETag != "" {
		return f.quotedETag
	}
	return `"` + f.ETag + `"`
}

// SHA256 returns the SHA-256 of the file's content and true when the
// model's manifest lists the file with the object's current size and
// ETag. Otherwise it returns false: the model has no manifest, the
// manifest does not list the file, or the object changed since the
// manifest was written.
func (f File) SHA256() ([32]byte, bool) {
	if f.sha256 == nil {
		return [32]byte{}, false
	}
	return *f.sha256, true
}

// record is one file of a [Model]. It contains no pointers, so the
// garbage collector never scans a model's records. The file's key and
// ETag are offsets into the model's blob, where the ETag follows the key
// in double quotes.
type record struct {
	key      uint32 // offset of the key in blob
	keyLen   uint32
	etagLen  uint32
	sha256   int32 // index in sums, or -1
	size     int64
	modified int64 // Unix milliseconds
}

// Model is a group of objects under "org/name/". It is immutable once
// its snapshot is published.
type Model struct {
	// ID is "org/name".
	ID string

	// Prefix is the key prefix of the model's objects, ending in "/".
	Prefix string

	// Commit is the 40-character lowercase hex commit id.
	Commit string

	// Size is the sum of the files' sizes in bytes.
	Size int64

	// modified is the newest LastModified of the files, in Unix
	// milliseconds.
	modified int64

	// blob contains the key and quoted ETag of every file, in path
	// order. ID
	// and Prefix are substrings of it too.
	blob string

	// records are the files sorted by path.
	records []record

	// sums contains the SHA-256 values that records index. It belongs
	// to the model's manifest index, which never changes it.
	sums [][32]byte

	// index is a hash table of the paths with linear probing. A slot
	// holds the high 32 bits of the path's hash and the record's index
	// plus one in the low 32 bits, or 0 when empty. Its length is a
	// power of two, and at most three quarters of it is used.
	index []uint64
	seed  maphash.Seed
}

// Org returns the part of ID before the slash.
func (m *Model) Org() string {
	org, _, _ := strings.Cut(m.ID, "/")
	return org
}

// ModTime returns the newest last-modified time of the model's files.
func (m *Model) ModTime() time.Time {
	return time.UnixMilli(m.modified).UTC()
}

// NumFiles returns the number of files of the model.
func (m *Model) NumFiles() int { return len(m.records) }

// FileAt returns the file at index i of the files sorted by path. It
// panics when i is outside [0, NumFiles()).
func (m *Model) FileAt(i int) File {
	r := &m.records[i]
	key := m.blob[r.key : r.key+r.keyLen]
	quoted := m.blob[r.key+r.keyLen : r.key+r.keyLen+r.etagLen+2]
	f := File{
		Key:        key,
		Path:       key[len(m.Prefix):],
		Size:       r.size,
		ETag:       quoted[1 : len(quoted)-1],
		quotedETag: quoted,
		modified:   r.modified,
	}
	if r.sha256 >= 0 {
		f.sha256 = &m.sums[r.sha256]
	}
	return f
}

// Files returns an iterator over the model's files sorted by path, with
// their indexes as FileAt takes them.
func (m *Model) Files() iter.Seq2[int, File] {
	return func(yield func(int, File) bool) {
		for i := range m.records {
			if !yield(i, m.FileAt(i)) {
				return
			}
		}
	}
}

// Snapshot is an immutable view of the bucket at one listing. It is safe
// for concurrent use.
type Snapshot struct {
	models []*Model
	byID   map[string]*Model

	// Loaded is when the listing that produced the snapshot finished.
	Loaded time.Time

	// Objects is the number of files in all models.
	Objects int

	// Skipped is the number of listed keys that belong to no model:
	// directory markers, keys with fewer than three segments, keys with
	// a "." or ".." segment, the objects below each model's
	// ManifestDir, manifests included, and objects whose key and ETag
	// would grow their model's keys and ETags past 4 GiB.
	Skipped int

	// Verified is the number of files with a SHA-256 from their model's
	// manifest.
	Verified int

	// Unverified is the number of files in models with a manifest that
	// the manifest does not vouch for: it does not list them, or lists
	// another size or ETag, or could not be read. Files of models
	// without a manifest are not counted.
	Unverified int
}

// Model returns the model with the given "org/name" id.
func (s *Snapshot) Model(id string) (*Model, bool) {
	if s == nil {
		return nil, false
	}
	m, ok := s.byID[id]
	return m, ok
}

// Models returns every model sorted by ID. The caller must not modify
// the slice.
func (s *Snapshot) Models() []*Model {
	if s == nil {
		return nil
	}
	return s.models
}

// ModelsAfter returns up to limit models whose ID sorts after the given
// one, in order. An empty after starts at the first model.
func (s *Snapshot) ModelsAfter(after string, limit int) []*Model {
	models := s.Models()
	i := sort.Search(len(models), func(i int) bool {
		return models[i].ID > after
	})
	models = models[i:]
	if limit > 0 && len(models) > limit {
		models = models[:limit]
	}
	return models
}
