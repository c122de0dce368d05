package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelgate/modelgate/catalog"
)

// The HTML pages are rendered on the server and work without JavaScript.
// Their templates and assets are compiled into the binary.
var (
	//go:embed templates/*.html
	templateFiles embed.FS

	//go:embed static
	staticFiles embed.FS
)

// staticPrefix is the URL prefix of the pages' assets. It shadows the
// model page and resolve URLs of a model named "-/static" only.
const staticPrefix = "/-/static/"

// Page sizes of the HTML pages, which are smaller than the JSON API's so
// that a page stays quick to load on a phone.
const (
	modelsPerPage = 100
	filesPerPage  = 1000
)

// pageCSP is the Content-Security-Policy of every HTML page: only the
// gateway's own stylesheet, script and icon may load, forms may submit
// only to the gateway, and no other site may frame the pages.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; " +
	"script-src 'self'; form-action 'self'; base-uri 'none'; " +
	"frame-ancestors 'none'"

// asset is one embedded static file.
type asset struct {
	body        []byte
	contentType string
	etag        string // quoted
	version     string // short content hash, for cache-busting URLs
}

// assetURLs are the versioned URLs of the assets that every page loads.
type assetURLs struct {
	CSS, JS, Icon string
}

// pageSet is the parsed templates and the assets. It is read-only after
// newPageSet and safe for concurrent use.
type pageSet struct {
	tmpl   *template.Template
	assets map[string]asset
	urls   assetURLs
}

// newPageSet parses the embedded templates and loads the embedded assets.
// basePath, the escaped path of the public URL without a trailing slash,
// prefixes the assets' URLs.
func newPageSet(basePath string) (*pageSet, error) {
	tmpl, err := template.ParseFS(templateFiles, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse page templates: %w", err)
	}
	assets, err := loadAssets(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	p := &pageSet{tmpl: tmpl, assets: assets}
	p.urls = assetURLs{
		CSS:  basePath + p.assetURL("style.css"),
		JS:   basePath + p.assetURL("copy.js"),
		Icon: basePath + p.assetURL("favicon.svg"),
	}
	return p, nil
}

// loadAssets reads every file of dir in fsys into memory.
func loadAssets(fsys fs.FS, dir string) (map[string]asset, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read page assets: %w", err)
	}
	assets := make(map[string]asset, len(entries))
	for _, e := range entries {
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read page asset: %w", err)
		}
		sum := sha256.Sum256(body)
		version := hex.EncodeToString(sum[:6])
		ctype := mime.TypeByExtension(path.Ext(e.Name()))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		assets[e.Name()] = asset{body: body, contentType: ctype,
			etag: `"` + version + `"`, version: version}
	}
	return assets, nil
}

// assetURL returns the URL of the named asset with its version, so that a
// changed asset gets a new URL and browsers may cache each one for long.
func (p *pageSet) assetURL(name string) string {
	return staticPrefix + name + "?v=" + p.assets[name].version
}

// handleStatic serves an embedded asset.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "file")
	a, ok := s.pages.assets[name]
	if !ok {
		s.writeError(w, r, errorf(http.StatusNotFound, "",
			"no asset "+strconv.Quote(truncate(name, maxEchoName))))
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if q.Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// pageMeta is the data of the shared page layout: the title, the asset
// URLs, and Base, the path prefix of every link, which is the escaped
// path of the public URL without a trailing slash ("" for none).
type pageMeta struct {
	Title  string
	Assets assetURLs
	Base   string
}

// newPageMeta returns the layout data of a page with the given title.
func (s *Server) newPageMeta(title string) pageMeta {
	return pageMeta{Title: title, Assets: s.pages.urls, Base: s.basePath}
}

// renderPage renders the named template into memory, so that a template
// error becomes a clean 500, and then sends it with the pages' headers.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request,
	name string, data any,
) {
	var buf bytes.Buffer
	if err := s.pages.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.writeError(w, r, fmt.Errorf("render %s page: %w", name, err))
		return
	}
	h := w.Header()
	setPageHeaders(h)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

// setPageHeaders sets the content type and security headers of an HTML
// response.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// errorView is the data of the error page.
type errorView struct {
	pageMeta
	Heading    string
	Message    string
	Code       string
	RetryAfter string
}

// writeErrorPage sends e as an HTML page. writeError calls it after
// setting the X-Error-* headers, for clients that prefer HTML.
func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request,
	e *Error,
) {
	v := errorView{
		pageMeta: s.newPageMeta(http.StatusText(e.Status)),
		Heading:  strconv.Itoa(e.Status) + " " + http.StatusText(e.Status),
		Message:  e.Message,
		Code:     errorCode(e),
	}
	if e.RetryAfter > 0 {
		v.RetryAfter = pluralize(ceilSeconds(e.RetryAfter), "second")
	}
	var buf bytes.Buffer
	err := s.pages.tmpl.ExecuteTemplate(&buf, "error", v)
	h := w.Header()
	setPageHeaders(h)
	if err != nil {
		// The page could not be built, so send the message as text.
		s.log.Error("render error page", "err", err)
		buf.Reset()
		buf.WriteString(v.Heading + "\n\n" + e.Message + "\n")
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// sizeView is a byte count with its human-readable form.
type sizeView struct {
	Bytes int64
	Human string
}

func newSizeView(n int64) sizeView {
	return sizeView{Bytes: n, Human: humanBytes(n)}
}

// timeView is a time in machine-readable (RFC 3339) and human form. The
// human form is split into the date and the time of day in UTC, so that
// a narrow column wraps between them and not inside the date.
type timeView struct {
	ISO, Date, Clock string
}

func newTimeView(t time.Time) timeView {
	t = t.UTC()
	return timeView{ISO: t.Format(time.RFC3339),
		Date: t.Format("2006-01-02"), Clock: t.Format("15:04 UTC")}
}

// pager is the page navigation of a paginated table. Prev and Next are
// empty on the first and last page.
type pager struct {
	Page, Pages int
	Prev, Next  string
}

// pageRange returns the slice bounds of page (1-based) in a list of n
// items shown size at a time, and the number of pages, at least one. It
// reports false when the page lies past the end.
func pageRange(n, page, size int) (start, end, pages int, ok bool) {
	pages = max((n+size-1)/size, 1)
	if page > pages {
		return 0, 0, pages, false
	}
	start = (page - 1) * size
	end = min(start+size, n)
	return start, end, pages, true
}

// parsePage parses the "page" query parameter: empty means 1.
func parsePage(raw string) (int, error) {
	if raw == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, badRequest(errorString("invalid page " +
			strconv.Quote(truncate(raw, 32)) +
			"; use a whole number from 1"))
	}
	return n, nil
}

// newPager builds the navigation links for page of pages. Each link keeps
// the query parameters in keep.
func newPager(base string, keep url.Values, page, pages int) pager {
	link := func(p int) string {
		q := url.Values{}
		for k, v := range keep {
			if len(v) > 0 && v[0] != "" {
				q.Set(k, v[0])
			}
		}
		if p > 1 {
			q.Set("page", strconv.Itoa(p))
		}
		if len(q) == 0 {
			return base
		}
		return base + "?" + q.Encode()
	}
	pg := pager{Page: page, Pages: pages}
	if page > 1 {
		pg.Prev = link(page - 1)
	}
	if page < pages {
		pg.Next = link(page + 1)
	}
	return pg
}

// pageNotFound is the error for a page number past the end of a list.
func pageNotFound(page, pages int) *Error {
	return errorf(http.StatusNotFound, "", fmt.Sprintf(
		"page %d does not exist; the list has %s",
		page, pluralize(pages, "page")))
}

// modelPageHref returns the escaped path of a model's page.
func modelPageHref(id string) string {
	return "/" + escapePath(id)
}

// resolveHref returns the escaped path that downloads a file of a model.
func resolveHref(m *catalog.Model, f catalog.File) string {
	return "/" + escapePath(m.ID) + "/resolve/main/" + escapePath(f.Path)
}
