package catalog

import (
	"sort"
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

// builder groups listed objects into models.
type builder struct {
	root      string
	byID      map[string]*Model
	manifests map[string]Object // manifest objects by model id
	skipped   int
	objects   int
}

func newBuilder(root string) *builder {
	return &builder{root: root, byID: make(map[string]*Model),
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
	m := b.byID[id]
	if m == nil {
		m = &Model{ID: id, Prefix: o.Key[:prefixLen]}
		b.byID[id] = m
	}
	m.Files = append(m.Files, File{
		Key:      o.Key,
		Path:     o.Key[prefixLen:],
		Size:     o.Size,
		ETag:     strings.Trim(o.ETag, `"`),
		modified: o.Modified.UnixMilli(),
	})
	b.objects++
}

// snapshot finishes every model and returns the result.
func (b *builder) snapshot(loaded time.Time) *Snapshot {
	s := &Snapshot{
		byID:    b.byID,
		models:  make([]*Model, 0, len(b.byID)),
		Loaded:  loaded,
		Objects: b.objects,
		Skipped: b.skipped,
	}
	for _, m := range b.byID {
		m.Files = m.Files[:len(m.Files):len(m.Files)]
		m.finish()
		s.models = append(s.models, m)
	}
	sort.Slice(s.models, func(i, j int) bool {
		return s.models[i].ID < s.models[j].ID
	})
	return s
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
