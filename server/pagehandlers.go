package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelgate/modelgate/catalog"
)

// indexView is the data of the model list page.
type indexView struct {
	pageMeta
	Query   string
	Summary string
	Models  []modelRow
	Pager   pager
}

// modelRow is one model in the model list.
type modelRow struct {
	ID, Href string
	Files    int
	Size     sizeView
	Modified timeView
}

// handleIndexPage renders the model list. The "q" query parameter keeps
// the models whose id contains it, ignoring case, and "page" selects a
// page of the result.
func (s *Server) handleIndexPage(w http.ResponseWriter, r *http.Request) {
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
	page, err := parsePage(q.Get("page"))
	if err = queryError("page", err); err != nil {
		s.writeError(w, r, err)
		return
	}
	// The page is UTF-8, so a query with invalid bytes, such as %ff,
	// is shown and matched with U+FFFD in their place.
	query := strings.ToValidUTF8(strings.TrimSpace(q.Get("q")), "\uFFFD")
	models := filterModels(snap.Models(), query)

	start, end, pages, ok := pageRange(len(models), page, modelsPerPage)
	if !ok {
		s.writeError(w, r, pageNotFound(page, pages))
		return
	}
	v := indexView{
		pageMeta: s.newPageMeta("Models"),
		Query:    query,
		Models:   make([]modelRow, 0, end-start),
		Pager:    newPager(s.basePath+"/", url.Values{"q": {query}}, page, pages),
	}
	for _, m := range models[start:end] {
		v.Models = append(v.Models, modelRow{
			ID:       m.ID,
			Href:     s.basePath + modelPageHref(m.ID),
			Files:    m.NumFiles(),
			Size:     newSizeView(m.Size),
			Modified: newTimeView(m.ModTime()),
		})
	}
	v.Summary = rangeSummary(start, end, len(models), "model")
	if query != "" {
		v.Summary += fmt.Sprintf(" whose name contains “%s”", query)
	}
	s.renderPage(w, r, "index", v)
}

// filterModels returns the models whose id contains query, ignoring
// case. An empty query keeps them all without copying.
func filterModels(models []*catalog.Model, query string) []*catalog.Model {
	if query == "" {
		return models
	}
	query = strings.ToLower(query)
	var out []*catalog.Model
	for _, m := range models {
		if idContains(m, query) {
			out = append(out, m)
		}
	}
	return out
}

// idContains reports whether the model's id, in lower case, contains
// lowered, which the caller has put in lower case.
func idContains(m *catalog.Model, lowered string) bool {
	return strings.Contains(strings.ToLower(m.ID), lowered)
}

// rangeSummary describes the rows start..end of total, such as
// "Showing 101–200 of 1,234 models".
func rangeSummary(start, end, total int, noun string) string {
	if start == 0 && end == total {
		return "Showing " + pluralize(total, noun)
	}
	return fmt.Sprintf("Showing %s–%s of %s", formatCount(start+1),
		formatCount(end), pluralize(total, noun))
}

// modelView is the data of a model's page.
type modelView struct {
	pageMeta
	ID, Org   string
	Commit    string
	FileCount int
	Size      sizeView
	Modified  timeView
	Summary   string
	Files     []fileRow
	Pager     pager
	Commands  []command
}

// fileRow is one file in a model's file table.
type fileRow struct {
	Path, Href string
	Size       sizeView
	Modified   timeView
	ETag       string
}

// handleModelPage renders a model's files with download links and the
// commands that download the model. The "page" query parameter selects a
// page of the file table.
func (s *Server) handleModelPage(w http.ResponseWriter, r *http.Request) {
	id, err := parseModel(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := parsePage(q.Get("page"))
	if err = queryError("page", err); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, _, err := s.lookupRevision(r.Context(), id, "main")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)

	start, end, pages, ok := pageRange(m.NumFiles(), page, filesPerPage)
	if !ok {
		s.writeError(w, r, pageNotFound(page, pages))
		return
	}
	v := modelView{
		pageMeta:  s.newPageMeta(m.ID),
		ID:        m.ID,
		Org:       m.Org(),
		Commit:    m.Commit,
		FileCount: m.NumFiles(),
		Size:      newSizeView(m.Size),
		Modified:  newTimeView(m.ModTime()),
		Files:     make([]fileRow, 0, end-start),
		Pager:     newPager(s.basePath+modelPageHref(m.ID), nil, page, pages),
		Commands:  modelCommands(s.publicBase(r), m),
	}
	if pages > 1 {
		v.Summary = rangeSummary(start, end, m.NumFiles(), "file")
	}
	for i := start; i < end; i++ {
		f := m.FileAt(i)
		v.Files = append(v.Files, fileRow{
			Path:     f.Path,
			Href:     s.basePath + resolveHref(m, f),
			Size:     newSizeView(f.Size),
			Modified: newTimeView(f.ModTime()),
			ETag:     f.ETag,
		})
	}
	s.renderPage(w, r, "model", v)
}
