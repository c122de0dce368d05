package server

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/modelgate/modelgate/catalog"
)

// entryJSON is a file or directory in a tree or paths-info response.
type entryJSON struct {
	Type       string      `json:"type"`
	OID        string      `json:"oid"`
	Size       int64       `json:"size"`
	Path       string      `json:"path"`
	LFS        *lfsJSON    `json:"lfs,omitempty"`
	LastCommit *commitJSON `json:"lastCommit,omitempty"`
}

// lfsJSON is the "lfs" of a file entry, sent only when the file's real
// SHA-256 is known. Clients name cached blobs after OID and compare it
// with the downloaded content.
type lfsJSON struct {
	OID         string `json:"oid"`
	Size        int64  `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// lfsPointerSize is the size of a Git LFS pointer file, which the Hub
// reports for every LFS file; clients read but do not use it.
const lfsPointerSize = 134

// commitJSON is the "lastCommit" of an expanded entry.
type commitJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

func fileEntry(m *catalog.Model, f catalog.File, expand bool) entryJSON {
	e := entryJSON{Type: "file", OID: f.ETag, Size: f.Size, Path: f.Path}
	if sum, ok := f.SHA256(); ok {
		e.LFS = &lfsJSON{OID: hex.EncodeToString(sum[:]), Size: f.Size,
			PointerSize: lfsPointerSize}
	}
	if expand {
		e.LastCommit = lastCommit(m)
	}
	return e
}

func dirEntry(m *catalog.Model, dir string, expand bool) entryJSON {
	sum := sha1.Sum([]byte(m.Commit + "\x00" + dir))
	e := entryJSON{Type: "directory", OID: hex.EncodeToString(sum[:]),
		Path: dir}
	if expand {
		e.LastCommit = lastCommit(m)
	}
	return e
}

func lastCommit(m *catalog.Model) *commitJSON {
	return &commitJSON{ID: m.Commit, Title: "sync from bucket",
		Date: m.ModTime().Format(timeFormatJSON)}
}

// treeEntries lists the entries under dir ("" for the root) in a stable
// order: each directory appears just before its first file. Without
// recursive, only the immediate children are listed.
func treeEntries(m *catalog.Model, dir string, recursive,
	expand bool,
) []entryJSON {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var out []entryJSON
	seen := make(map[string]bool)
	for _, f := range m.Files() {
		rel, ok := strings.CutPrefix(f.Path, prefix)
		if !ok {
			continue
		}
		parts := strings.Split(rel, "/")
		for d := 1; d < len(parts); d++ {
			sub := prefix + strings.Join(parts[:d], "/")
			if !seen[sub] {
				seen[sub] = true
				out = append(out, dirEntry(m, sub, expand))
			}
			if !recursive {
				break
			}
		}
		if recursive || len(parts) == 1 {
			out = append(out, fileEntry(m, f, expand))
		}
	}
	return out
}

// parseBool parses the value v of the flag name without regard to case,
// as the Python client sends "True" and the others "true".
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest(errorString("invalid " + name + " " +
		strconv.Quote(truncate(v, 32)) + "; use true or false"))
}

// treeRequest is a decoded tree listing request.
type treeRequest struct {
	model     string
	rev       string
	dir       string // "" for the model's root
	recursive bool
	expand    bool
	after     treeCursor
}

// parseTreeRequest decodes the URL parameters and the query of a tree
// request. The "recursive" and "expand" flags are parsed without regard
// to case.
func parseTreeRequest(r *http.Request) (treeRequest, error) {
	var tr treeRequest
	var err error
	if tr.model, err = parseModel(r); err != nil {
		return tr, err
	}
	if tr.rev, err = decodeRevision(chi.URLParam(r, "rev")); err != nil {
		return tr, badRequest(err)
	}
	if raw := strings.TrimSuffix(chi.URLParam(r, "*"), "/"); raw != "" {
		if tr.dir, err = decodePath(raw); err != nil {
			return tr, badRequest(err)
		}
	}
	if err := checkKeyLength(tr.model, tr.dir); err != nil {
		return tr, err
	}
	q, err := parseQuery(r)
	if err != nil {
		return tr, err
	}
	if tr.recursive, err = parseBool("recursive", q.Get("recursive")); err != nil {
		return tr, queryError("recursive", err)
	}
	if tr.expand, err = parseBool("expand", q.Get("expand")); err != nil {
		return tr, queryError("expand", err)
	}
	tr.after, err = decodeTreeCursor(q.Get("cursor"))
	err = queryError("cursor", err)
	return tr, err
}

// handleTree lists a model's files and directories at a revision, under
// an optional path, a page at a time. The next-page link names the
// commit id instead of the requested revision, so a listing whose model
// changes between pages fails with RevisionNotFound instead of mixing
// two versions.
func (s *Server) handleTree(w http.ResponseWriter, r *http.Request) {
	tr, err := parseTreeRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, commit, err := s.lookupRevision(r.Context(), tr.model, tr.rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)

	if f, ok := m.File(tr.dir); ok {
		writeJSON(w, http.StatusOK,
			[]entryJSON{fileEntry(m, f, tr.expand)})
		return
	}
	if !m.Dir(tr.dir) {
		e := errorf(http.StatusNotFound, codeEntryNotFound,
			"path "+strconv.Quote(truncate(tr.dir, maxLogText))+
				" not found in "+m.ID)
		e.Commit = commit
		s.writeError(w, r, e)
		return
	}

	entries := treeEntries(m, tr.dir, tr.recursive, tr.expand)
	page, more, err := pageAfter(entries, tr.after, s.cfg.PageSize)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if more {
		next := "/api/models/" + escapePath(m.ID) + "/tree/" + commit
		if tr.dir != "" {
			next += "/" + escapePath(tr.dir)
		}
		last := page[len(page)-1]
		c := treeCursor{dir: last.Type == "directory", path: last.Path}
		s.setNextLink(w, r, next, c.String())
	}
	writeJSON(w, http.StatusOK, page)
}

// treeCursor names the last entry of a tree page. A path can name both
// a file and a directory, because S3 can hold the keys "a" and "a/b" at
// once, so the cursor records the entry's type too.
type treeCursor struct {
	dir  bool
	path string
}

// String encodes the cursor as "d" or "f" followed by the path.
func (c treeCursor) String() string {
	if c.dir {
		return "d" + c.path
	}
	return "f" + c.path
}

// decodeTreeCursor decodes a tree cursor. An empty one starts at the
// first entry.
func decodeTreeCursor(raw string) (treeCursor, error) {
	s, err := decodeCursor(raw)
	if err != nil || s == "" {
		return treeCursor{}, err
	}
	if s[0] != 'd' && s[0] != 'f' || len(s) < 2 {
		return treeCursor{}, invalidCursor(raw)
	}
	return treeCursor{dir: s[0] == 'd', path: s[1:]}, nil
}

// pageAfter returns up to size entries that follow the entry named by
// after, and whether more remain. A zero cursor starts at the first
// entry.
func pageAfter(entries []entryJSON, after treeCursor, size int) (
	[]entryJSON, bool, error,
) {
	start := 0
	if after.path != "" {
		start = -1
		for i := range entries {
			e := &entries[i]
			if e.Path == after.path && (e.Type == "directory") == after.dir {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, false, badRequest(errorString(
				"cursor does not match this listing; list the " +
					"model again from the start"))
		}
	}
	end := min(start+size, len(entries))
	page := entries[start:end]
	if page == nil {
		page = []entryJSON{}
	}
	return page, end < len(entries), nil
}

// maxPathsInfoBody and maxPathsInfoPaths bound a paths-info request.
const (
	maxPathsInfoBody  = 1 << 20
	maxPathsInfoPaths = 1000
)

// pathsInfoRequest is the body of a paths-info request.
type pathsInfoRequest struct {
	Paths  []string `json:"paths"`
	Expand bool     `json:"expand"`
}

// handlePathsInfo returns the entries for the requested paths, leaving
// out paths that do not exist. It accepts a JSON body, as the JavaScript
// client sends, and a form body, as the Python client sends.
func (s *Server) handlePathsInfo(w http.ResponseWriter, r *http.Request) {
	model, err := parseModel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev, err := decodeRevision(chi.URLParam(r, "rev"))
	if err != nil {
		s.writeError(w, r, badRequest(err))
		return
	}
	req, err := readPathsInfo(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, _, err := s.lookupRevision(r.Context(), model, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)

	out := []entryJSON{}
	for _, p := range req.Paths {
		p = strings.Trim(p, "/")
		if f, ok := m.File(p); ok {
			out = append(out, fileEntry(m, f, req.Expand))
		} else if p != "" && m.Dir(p) {
			out = append(out, dirEntry(m, p, req.Expand))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// readPathsInfo decodes a JSON or form paths-info body.
func readPathsInfo(r *http.Request) (pathsInfoRequest, error) {
	var req pathsInfoRequest
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge,
		Message: "body is larger than 1 MiB"}
	// A body announced as too large is rejected before any of it is
	// read.
	if r.ContentLength > maxPathsInfoBody {
		return req, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPathsInfoBody+1))
	if err != nil {
		return req, badRequest(errors.New("could not read the body"))
	}
	if len(body) > maxPathsInfoBody {
		return req, tooLarge
	}

	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		form, err := parseValues(string(body), "form body")
		if err != nil {
			return req, err
		}
		req.Paths = form["paths"]
		req.Expand, err = parseBool("expand", form.Get("expand"))
		if err != nil {
			return req, queryError("expand", err)
		}
	} else if err := json.Unmarshal(body, &req); err != nil {
		return req, badRequest(errors.New("invalid JSON body; send " +
			`{"paths": [...], "expand": true|false}`))
	}

	if len(req.Paths) > maxPathsInfoPaths {
		return req, badRequest(errors.New("more than 1000 paths; " +
			"split the request"))
	}
	return req, nil
}
