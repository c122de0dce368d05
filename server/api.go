package server

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/modelgate/modelgate/catalog"
)

// timeFormatJSON is the timestamp layout of the Hub's JSON API, which the
// Python client parses strictly.
const timeFormatJSON = "2006-01-02T15:04:05.000Z"

// modelJSON is a model in the Hub's JSON API.
type modelJSON struct {
	InternalID   string        `json:"_id"`
	ID           string        `json:"id"`
	ModelID      string        `json:"modelId"`
	Author       string        `json:"author"`
	SHA          string        `json:"sha"`
	LastModified string        `json:"lastModified"`
	Private      bool          `json:"private"`
	Gated        bool          `json:"gated"`
	Disabled     bool          `json:"disabled"`
	Downloads    int           `json:"downloads"`
	Likes        int           `json:"likes"`
	Tags         []string      `json:"tags"`
	PipelineTag  *string       `json:"pipeline_tag"`
	LibraryName  *string       `json:"library_name"`
	UsedStorage  int64         `json:"usedStorage"`
	Siblings     []siblingJSON `json:"siblings,omitempty"`
}

// siblingJSON is a file in a model's "siblings" list.
type siblingJSON struct {
	RFilename    string `json:"rfilename"`
	Size         int64  `json:"size"`
	BlobID       string `json:"blobId"`
	ETag         string `json:"etag"`
	LastModified string `json:"lastModified"`
}

// newModelJSON returns the API object of m, with its siblings when files
// is true. The "_id" is derived from the model id alone, so it stays the
// same across commits.
func newModelJSON(m *catalog.Model, files bool) modelJSON {
	id := sha1.Sum([]byte(m.ID))
	j := modelJSON{
		InternalID:   hex.EncodeToString(id[:12]),
		ID:           m.ID,
		ModelID:      m.ID,
		Author:       m.Org(),
		SHA:          m.Commit,
		LastModified: m.ModTime().Format(timeFormatJSON),
		Tags:         []string{},
		UsedStorage:  m.Size,
	}
	if files {
		j.Siblings = make([]siblingJSON, m.NumFiles())
		for i, f := range m.Files() {
			j.Siblings[i] = siblingJSON{
				RFilename:    f.Path,
				Size:         f.Size,
				BlobID:       f.ETag,
				ETag:         f.QuotedETag(),
				LastModified: f.ModTime().Format(timeFormatJSON),
			}
		}
	}
	return j
}

// handleListModels lists the models, a page at a time, in id order.
// The "search" query parameter keeps models whose id contains it, and
// "author" keeps one organisation's models.
func (s *Server) handleListModels(w http.ResponseWriter, r *http.Request) {
	snap, err := s.cat.Snapshot(r.Context())
	if err != nil {
		s.writeError(w, r, catalogUnavailable(err))
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	after, err := decodeCursor(q.Get("cursor"))
	err = queryError("cursor", err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	limit, err := s.pageLimit(q.Get("limit"))
	err = queryError("limit", err)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	search := strings.ToLower(q.Get("search"))
	author := q.Get("author")

	out := []modelJSON{}
	var last string
	more := false
	for _, m := range snap.ModelsAfter(after, 0) {
		if author != "" && m.Org() != author ||
			search != "" && !idContains(m, search) {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		out = append(out, newModelJSON(m, false))
		last = m.ID
	}
	if more {
		s.setNextLink(w, r, "/api/models", last)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleModelInfo returns one model with all its files.
func (s *Server) handleModelInfo(w http.ResponseWriter, r *http.Request) {
	model, err := parseModel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rev := "main"
	if raw := chi.URLParam(r, "rev"); raw != "" {
		if rev, err = decodeRevision(raw); err != nil {
			s.writeError(w, r, badRequest(err))
			return
		}
	}
	m, _, err := s.lookupRevision(r.Context(), model, rev)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)
	writeJSON(w, http.StatusOK, newModelJSON(m, true))
}

// parseModel decodes the {org} and {name} parameters into "org/name".
func parseModel(r *http.Request) (string, error) {
	org, err := decodeSegment(chi.URLParam(r, "org"))
	if err != nil {
		return "", badRequest(err)
	}
	name, err := decodeSegment(chi.URLParam(r, "name"))
	if err != nil {
		return "", badRequest(err)
	}
	return org + "/" + name, nil
}

// pageLimit parses the "limit" query parameter, capped at the page size.
func (s *Server) pageLimit(raw string) (int, error) {
	if raw == "" {
		return s.cfg.PageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, badRequest(errorString("invalid limit " +
			strconv.Quote(truncate(raw, 32)) + "; use a positive integer"))
	}
	return min(n, s.cfg.PageSize), nil
}

// setNextLink sets an absolute Link header to the next page: the public
// base URL, escapedPath, the request's query and the cursor. Both Hugging
// Face clients follow the link as it is; Python fails on a relative one
// and JavaScript silently stops after the first page.
func (s *Server) setNextLink(w http.ResponseWriter, r *http.Request,
	escapedPath, cursor string,
) {
	q := r.URL.Query()
	q.Set("cursor", encodeCursor(cursor))
	u := s.publicBase(r) + escapedPath + "?" + q.Encode()
	w.Header().Set("Link", "<"+u+`>; rel="next"`)
}

// encodeCursor makes a pagination cursor: the unpadded base64url of the
// position text. It holds no server state.
func encodeCursor(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// maxCursorBytes is the maximum length of a cursor. The longest key S3
// allows is 1024 bytes, which base64 makes 1366 characters.
const maxCursorBytes = 1400

// decodeCursor decodes a cursor made by encodeCursor. An empty cursor
// decodes to "".
func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	if len(c) > maxCursorBytes {
		return "", invalidCursor(c)
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !utf8.Valid(b) || len(b) == 0 {
		return "", invalidCursor(c)
	}
	return string(b), nil
}

func invalidCursor(c string) *Error {
	return badRequest(errorString("invalid cursor " +
		strconv.Quote(truncate(c, 64)) +
		"; use the Link header of the previous page"))
}

// errorString is a plain error with a fixed message.
type errorString string

func (e errorString) Error() string { return string(e) }

// truncate shortens s to at most n bytes for use in a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// escapePath percent-escapes each segment of a path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}
