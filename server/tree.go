package server

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
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
	LastCommit *commitJSON `json:"lastCommit,omitempty"`
}

// commitJSON is the "lastCommit" of an expanded entry.
type commitJSON struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

func fileEntry(m *catalog.Model, f *catalog.File, expand bool) entryJSON {
	e := entryJSON{Type: "file", OID: f.ETag, Size: f.Size, Path: f.Path}
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
	for i := range m.Files {
		f := &m.Files[i]
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

// parseBool parses a query flag without regard to case, as the Python
// client sends "True" and the others "true".
func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, badRequest(errorString("invalid boolean " +
		strconv.Quote(truncate(v, 32)) + "; use true or false"))
}

// handleTree lists a model's files and directories at a revision, under
// an optional path, a page at a time.
func (s *Server) handleTree(w http.ResponseWriter, r *http.Request) {
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
	dir := ""
	if raw := chi.URLParam(r, "*"); raw != "" {
		if dir, err = decodePath(strings.TrimSuffix(raw, "/")); err != nil {
			s.writeError(w, r, badRequest(err))
			return
		}
	}
	if len(model)+1+len(dir) > maxKeyBytes {
		s.writeError(w, r, badRequest(errorString(
			"path is longer than the 1024-byte S3 key limit")))
		return
	}
	q := r.URL.Query()
	recursive, err := parseBool(q.Get("recursive"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	expand, err := parseBool(q.Get("expand"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after, err := decodeCursor(q.Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	m, commit, err := s.lookupRevision(r.Context(), model, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)

	if f, ok := m.File(dir); ok {
		writeJSON(w, http.StatusOK, []entryJSON{fileEntry(m, f, expand)})
		return
	}
	if !m.Dir(dir) {
		e := errorf(http.StatusNotFound, codeEntryNotFound,
			"path "+strconv.Quote(dir)+" not found in "+m.ID)
		e.Commit = commit
		s.writeError(w, r, e)
		return
	}

	entries := treeEntries(m, dir, recursive, expand)
	page, more, err := pageAfter(entries, after, s.cfg.PageSize)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if more {
		s.setNextLink(w, r, r.URL.EscapedPath(), page[len(page)-1].Path)
	}
	writeJSON(w, http.StatusOK, page)
}

// pageAfter returns up to size entries that follow the entry whose path
// is after, and whether more remain.
func pageAfter(entries []entryJSON, after string, size int) (
	[]entryJSON, bool, error,
) {
	start := 0
	if after != "" {
		start = -1
		for i := range entries {
			if entries[i].Path == after {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return nil, false, badRequest(errorString(
				"cursor does not match this listing; the model may " +
					"have changed, so list it again from the start"))
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
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return req, badRequest(errors.New("invalid form body"))
		}
		req.Paths = form["paths"]
		if req.Expand, err = parseBool(form.Get("expand")); err != nil {
			return req, err
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
