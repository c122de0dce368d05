package catalog

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ManifestDir is the folder, inside a model's prefix, that holds
// modelgate's own objects. No object below it is listed as a model file.
const ManifestDir = ".modelgate"

// ManifestPath is the path of a model's manifest inside its prefix.
const ManifestPath = ManifestDir + "/manifest.json"

// ManifestFormat is the manifest format version this package writes and
// reads. A manifest with another version is rejected.
const ManifestFormat = 1

// MaxManifestSize is the largest manifest the catalog reads, in bytes.
// At about 150 bytes per entry it allows some 400,000 files per model.
const MaxManifestSize = 64 << 20

// Manifest lists the files of a model as a publisher uploaded them, with
// each file's SHA-256. The publisher writes it after every file, so a
// manifest never lists a file that was still being uploaded.
type Manifest struct {
	// Format is ManifestFormat.
	Format int `json:"format"`

	// Model is the model id, "org/name".
	Model string `json:"model"`

	// Published is when the publisher wrote the manifest.
	Published time.Time `json:"published"`

	// Files are the model's files sorted by Path.
	Files []ManifestFile `json:"files"`
}

// ManifestFile is one file of a [Manifest].
type ManifestFile struct {
	// Path is the file's path inside the model.
	Path string `json:"path"`

	// Size is the object's size in bytes.
	Size int64 `json:"size"`

	// SHA256 is the lowercase hex SHA-256 of the file's content.
	SHA256 string `json:"sha256"`

	// ETag is the object's entity tag, without quotes, as S3 returned
	// it for the upload. The catalog trusts SHA256 only while the
	// listed object still has this ETag and Size.
	ETag string `json:"etag"`
}

// ParseManifest decodes and checks a manifest. It returns an error when
// the format is unknown, a path is invalid or repeated, a size is
// negative, an ETag is empty or a SHA-256 is not 64 lowercase hex
// digits. The files come back sorted by path.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest format %d is not supported; "+
			"this version reads format %d", m.Format, ManifestFormat)
	}
	sortManifestFiles(m.Files)
	for i := range m.Files {
		if err := checkManifestFile(&m.Files[i]); err != nil {
			return nil, err
		}
		if i > 0 && m.Files[i-1].Path == m.Files[i].Path {
			return nil, fmt.Errorf("manifest lists %q twice",
				m.Files[i].Path)
		}
	}
	return &m, nil
}

func checkManifestFile(f *ManifestFile) error {
	switch {
	case !ValidPath(f.Path) || inManifestDir(f.Path):
		return fmt.Errorf("manifest path %q is invalid", f.Path)
	case f.Size < 0:
		return fmt.Errorf("manifest size of %q is negative", f.Path)
	case f.ETag == "":
		return fmt.Errorf("manifest ETag of %q is empty", f.Path)
	}
	if _, err := parseSHA256(f.SHA256); err != nil {
		return fmt.Errorf("manifest SHA-256 of %q: %w", f.Path, err)
	}
	return nil
}

// Marshal encodes the manifest with its files sorted by path.
func (m *Manifest) Marshal() ([]byte, error) {
	sortManifestFiles(m.Files)
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(data, '\n'), nil
}

func sortManifestFiles(files []ManifestFile) {
	sort.Slice(files, func(i, j int) bool {
		return files[i].Path < files[j].Path
	})
}

// inManifestDir reports whether a path inside a model is ManifestDir or
// lies below it.
func inManifestDir(path string) bool {
	return path == ManifestDir || strings.HasPrefix(path, ManifestDir+"/")
}

// parseSHA256 decodes a digest written as 64 lowercase hex digits.
func parseSHA256(s string) ([32]byte, error) {
	var sum [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return sum, errors.New("want 64 lowercase hex digits")
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, errors.New("want 64 lowercase hex digits")
	}
	return sum, nil
}

// manifestIndex is a parsed manifest kept across refreshes, keyed by the
// ETag of the manifest object it came from. Like a [Model], it keeps
// its strings in one blob and its entries without pointers, so the
// garbage collector does not scan them.
type manifestIndex struct {
	etag    string
	invalid error // the reason the manifest was rejected, or nil

	// blob contains the entries' paths and ETags, at first in a string of
	// the index's own. When a model's files match every entry, apply
	// points the entries into that model's blob instead, so the index
	// keeps no second copy. The index then keeps that blob in memory
	// until the files of a later snapshot match every entry again. Only
	// the refresh in progress reads or writes blob and entries.
	blob    string
	entries []indexEntry // sorted by path

	// sums[i] is the SHA-256 of entries[i]. Models share the slice, and
	// nothing changes it after newManifestIndex.
	sums [][32]byte
}

// indexEntry is one manifest file, with its path and ETag as offsets
// into the index's blob. MaxManifestSize keeps them within uint32.
type indexEntry struct {
	path, pathLen uint32
	etag, etagLen uint32
	size          int64
}

// newManifestIndex builds the index of a parsed manifest.
func newManifestIndex(etag string, m *Manifest) *manifestIndex {
	x := &manifestIndex{etag: etag,
		entries: make([]indexEntry, len(m.Files)),
		sums:    make([][32]byte, len(m.Files))}
	var blob strings.Builder
	for i, f := range m.Files {
		x.sums[i], _ = parseSHA256(f.SHA256) // ParseManifest checked it
		path := uint32(blob.Len())
		x.entries[i] = indexEntry{
			path: path, pathLen: uint32(len(f.Path)),
			etag: path + uint32(len(f.Path)), etagLen: uint32(len(f.ETag)),
			size: f.Size,
		}
		blob.WriteString(f.Path)
		blob.WriteString(f.ETag)
	}
	x.blob = blob.String()
	return x
}

// path returns the path of entry i.
func (x *manifestIndex) path(i int) string {
	e := &x.entries[i]
	return x.blob[e.path : e.path+e.pathLen]
}

// etagOf returns the ETag of entry i.
func (x *manifestIndex) etagOf(i int) string {
	e := &x.entries[i]
	return x.blob[e.etag : e.etag+e.etagLen]
}

// apply gives each file of m that the manifest lists with the same size
// and ETag its SHA-256, and returns how many files it could not vouch
// for. Both lists are sorted by path, so one pass matches them.
func (x *manifestIndex) apply(m *Model) (unverified int) {
	i, matched, last := 0, 0, -1
	for fi := range m.records {
		f := m.FileAt(fi)
		for i < len(x.entries) && x.path(i) < f.Path {
			i++
		}
		if i == len(x.entries) || x.path(i) != f.Path ||
			x.entries[i].size != f.Size || x.etagOf(i) != f.ETag {
			unverified++
			continue
		}
		m.records[fi].sha256 = int32(i)
		if i != last { // a repeated path matches the same entry again
			matched, last = matched+1, i
		}
	}
	if matched > 0 {
		m.sums = x.sums
	}
	if matched > 0 && matched == len(x.entries) {
		x.rebase(m)
	}
	return unverified
}

// rebase points every entry at the equal path and ETag in the blob of
// m, whose files apply matched with every entry.
func (x *manifestIndex) rebase(m *Model) {
	prefixLen := uint32(len(m.Prefix))
	for _, r := range m.records {
		if r.sha256 < 0 {
			continue
		}
		e := &x.entries[r.sha256]
		e.path, e.pathLen = r.key+prefixLen, r.keyLen-prefixLen
		e.etag, e.etagLen = r.key+r.keyLen+1, r.etagLen
	}
	x.blob = m.blob
}
