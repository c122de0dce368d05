package catalog

import (
	"crypto/sha1"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File is one object of a model. Its fields are read-only.
type File struct {
	// Key is the object's key in the bucket, byte for byte as listed.
	Key string

	// Path is the file's path inside the model, a suffix of Key.
	Path string

	// Size is the object's size in bytes.
	Size int64

	// ETag is the object's entity tag without the surrounding quotes.
	ETag string

	// modified is the object's LastModified in Unix milliseconds.
	modified int64

	// sha256 points into the model's manifest index, or is nil when the
	// manifest does not vouch for the object.
	sha256 *[32]byte
}

// ModTime returns the object's last-modified time in UTC.
func (f *File) ModTime() time.Time {
	return time.UnixMilli(f.modified).UTC()
}

// SHA256 returns the SHA-256 of the file's content and true when the
// model's manifest lists the file with the object's current size and
// ETag. Otherwise it returns false: the model has no manifest, the
// manifest does not list the file, or the object changed since the
// manifest was written.
func (f *File) SHA256() ([32]byte, bool) {
	if f.sha256 == nil {
		return [32]byte{}, false
	}
	return *f.sha256, true
}

// Model is a group of objects under "org/name/". It is immutable once
// its snapshot is published.
type Model struct {
	// ID is "org/name".
	ID string

	// Prefix is the key prefix of the model's objects, ending in "/".
	Prefix string

	// Files are the model's objects sorted by Path.
	Files []File

	// Commit is the 40-character lowercase hex commit id.
	Commit string

	// Size is the sum of the files' sizes in bytes.
	Size int64

	// modified is the newest LastModified of the files, in Unix
	// milliseconds.
	modified int64
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

// File returns the file at path, or nil and false when the model has
// none. The path must match the listed path exactly.
func (m *Model) File(path string) (*File, bool) {
	i := sort.Search(len(m.Files), func(i int) bool {
		return m.Files[i].Path >= path
	})
	if i < len(m.Files) && m.Files[i].Path == path {
		return &m.Files[i], true
	}
	return nil, false
}

// Dir reports whether path names a directory of the model: a prefix
// that at least one file's path continues with "/".
func (m *Model) Dir(path string) bool {
	if path == "" {
		return true
	}
	dir := path + "/"
	i := sort.Search(len(m.Files), func(i int) bool {
		return m.Files[i].Path >= dir
	})
	return i < len(m.Files) && strings.HasPrefix(m.Files[i].Path, dir)
}

// finish sorts the files and computes the model's totals and commit id.
func (m *Model) finish() {
	sort.Slice(m.Files, func(i, j int) bool {
		return m.Files[i].Path < m.Files[j].Path
	})

	h := sha1.New()
	var buf []byte
	for i := range m.Files {
		f := &m.Files[i]
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
	// a "." or ".." segment, and the objects below each model's
	// ManifestDir, manifests included.
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
