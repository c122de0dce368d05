package catalog

import (
	"hash/maphash"
	"strings"
)

// File returns the file at path, or false when the model has none. The
// path must match the listed path exactly. File does not allocate.
func (m *Model) File(path string) (File, bool) {
	h := maphash.String(m.seed, path)
	mask := uint64(len(m.index) - 1)
	for slot := h & mask; ; slot = (slot + 1) & mask {
		e := m.index[slot]
		if e == 0 {
			return File{}, false
		}
		if e>>32 == h>>32 && m.path(int(uint32(e))-1) == path {
			return m.FileAt(int(uint32(e)) - 1), true
		}
	}
}

// buildIndex fills the hash table of the paths. Files with equal paths
// go in index order, so that File finds the first of them.
func (m *Model) buildIndex(seed maphash.Seed) {
	size := 2
	for size*3 < len(m.records)*4 {
		size *= 2
	}
	m.seed, m.index = seed, make([]uint64, size)
	mask := uint64(size - 1)
	for i := range m.records {
		h := maphash.String(seed, m.path(i))
		slot := h & mask
		for m.index[slot] != 0 {
			slot = (slot + 1) & mask
		}
		m.index[slot] = h>>32<<32 | uint64(i+1)
	}
}

// Dir reports whether path names a directory of the model: a prefix
// that at least one file's path continues with "/".
func (m *Model) Dir(path string) bool {
	if path == "" {
		return true
	}
	dir := path + "/"
	i := m.search(dir)
	return i < len(m.records) && strings.HasPrefix(m.path(i), dir)
}

// path returns the path of the file at index i.
func (m *Model) path(i int) string {
	r := &m.records[i]
	return m.blob[r.key+uint32(len(m.Prefix)) : r.key+r.keyLen]
}

// search returns the index of the first file whose path is not less
// than path, or NumFiles() when there is none.
func (m *Model) search(path string) int {
	lo, hi := 0, len(m.records)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if m.path(mid) < path {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
