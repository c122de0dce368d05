package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
)

// Catalog is the part of the catalog that the handlers read.
type Catalog interface {
	// Snapshot returns the last good snapshot, loading the first one if
	// needed.
	Snapshot(ctx context.Context) (*catalog.Snapshot, error)

	// Current returns the last good snapshot without blocking, or nil.
	Current() *catalog.Snapshot
}

// Presigner makes the download URLs.
type Presigner interface {
	// Presign returns a pre-signed GET URL for the object key that makes
	// browsers save the object as filename.
	Presign(ctx context.Context, key, filename string) (presign.URL, error)
}

// Config sets up a [Server]. Zero fields take the documented defaults.
type Config struct {
	// PublicURL is the gateway's base URL as clients reach it, such as
	// "https://models.example.com". The API's absolute links are built
	// from it, and its path, such as "/models" behind a proxy that strips
	// that prefix, prefixes every link of the HTML pages. Empty means the
	// scheme and Host of each request, and no prefix.
	PublicURL string

	// PageSize is the number of entries per page of the model list and
	// the tree listing. Zero means 1000.
	PageSize int

	// Logger receives the access log and errors. Nil discards them.
	Logger *slog.Logger

	// JSONAccessLog, when set, receives the access log in place of
	// Logger. Each record is one line in one Write call, byte for byte
	// what slog.JSONHandler with default options writes, but encoded
	// without slog's work per attribute. Logger's level still decides
	// whether records are written, and attributes added with Logger.With
	// do not appear in them. Write must be safe for concurrent use, and
	// its errors are ignored.
	JSONAccessLog io.Writer

	// Metrics records the request and download metrics. Nil records
	// nothing.
	Metrics *Metrics

	// Limiter, when set, rate-limits clients.
	Limiter Limiter

	// MaxInFlight caps the requests handled at once. A request over the
	// cap gets 503 with Retry-After at once. /healthz, /readyz and
	// /metrics are exempt. Zero means no cap.
	MaxInFlight int

	// CORSOrigins are the origins whose scripts may read the API and
	// download responses, as ParseOrigins returns them. Empty means
	// every origin ("*").
	CORSOrigins []string

	// Ready, when set, is consulted by /readyz after the catalog check.
	// A non-nil error makes the gateway not ready, with its text as the
	// reason.
	Ready func() error

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("public URL %q is not an absolute "+
				"http or https URL without query", c.PublicURL)
		}
	}
	if c.PageSize < 0 || c.PageSize > 10000 {
		return fmt.Errorf("page size %d is outside 1..10000", c.PageSize)
	}
	if c.MaxInFlight < 0 {
		return fmt.Errorf("max in-flight %d is negative", c.MaxInFlight)
	}
	if len(c.CORSOrigins) > 0 {
		list := strings.Join(c.CORSOrigins, ",")
		if _, err := ParseOrigins(list); err != nil {
			return fmt.Errorf("CORS origins: %w", err)
		}
	}
	return nil
}

// Server serves the gateway's routes. It is safe for concurrent use.
type Server struct {
	cfg     Config
	cat     Catalog
	signer  Presigner
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	router  chi.Router

	// basePath is the escaped path of cfg.PublicURL without a trailing
	// slash, which prefixes the links of the HTML pages.
	basePath string

	pages      *pageSet
	corsPolicy *corsPolicy

	// expiresText formats the X-Url-Expires of downloads.
	expiresText timeText

	// states are the requestStates of finished requests, for reuse.
	states     sync.Pool
	requestIDs *requestIDs

	// accessJSON is nil unless Config.JSONAccessLog is set.
	accessJSON *jsonAccessLog
}

// New returns a server that looks files up in cat and signs URLs with
// signer.
func New(cfg Config, cat Catalog, signer Presigner) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cat == nil || signer == nil {
		return nil, errors.New("server: catalog and presigner are required")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	if cfg.PageSize == 0 {
		cfg.PageSize = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	basePath := ""
	if u, err := url.Parse(cfg.PublicURL); err == nil {
		basePath = strings.TrimSuffix(u.EscapedPath(), "/")
	}
	pages, err := newPageSet(basePath)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}

	s := &Server{
		cfg:        cfg,
		cat:        cat,
		signer:     signer,
		log:        cfg.Logger,
		metrics:    cfg.Metrics,
		now:        cfg.Now,
		basePath:   basePath,
		pages:      pages,
		corsPolicy: newCORSPolicy(cfg.CORSOrigins),
		requestIDs: newRequestIDs(),
	}
	if cfg.JSONAccessLog != nil {
		s.accessJSON = newJSONAccessLog(cfg.JSONAccessLog)
	}
	s.router = s.routes()
	return s, nil
}

// routes builds the router. Routing runs on the escaped path, and each
// handler decodes its parameters segment by segment.
//
// The HTML pages share the path space with the models: "/{org}/{name}"
// is a model's page. The fixed routes take precedence over models in an
// organisation named "api" and the model "-/static", which
// catalog.Reserved names, so the catalog skips those models and publish
// rejects their ids.
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverPanic, s.capInFlight(s.cfg.MaxInFlight))
	r.NotFound(s.handleNotFound)
	r.MethodNotAllowed(s.handleMethodNotAllowed)

	getHead(r, "/healthz", s.handleHealthz)
	getHead(r, "/readyz", s.handleReadyz)
	if s.metrics != nil && s.metrics.onMain {
		getHead(r, "/metrics", s.metrics.Handler().ServeHTTP)
	}

	getHead(r, staticPrefix+"{file}", s.handleStatic)

	r.Group(func(r chi.Router) {
		r.Use(s.limit(budgetAPI))
		getHead(r, "/", s.handleIndexPage)
		getHead(r, "/{org}/{name}", s.handleModelPage)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.cors, s.limit(budgetAPI))
		getHead(r, "/api/models", s.handleListModels)
		getHead(r, "/api/models/{org}/{name}", s.handleModelInfo)
		getHead(r, "/api/models/{org}/{name}/revision/{rev}",
			s.handleModelInfo)
		getHead(r, "/api/models/{org}/{name}/tree/{rev}", s.handleTree)
		getHead(r, "/api/models/{org}/{name}/tree/{rev}/*", s.handleTree)
		r.Post("/api/models/{org}/{name}/paths-info/{rev}",
			s.handlePathsInfo)
		r.HandleFunc(unknownAPIPattern, s.handleUnknownAPI)
		r.Options("/api/*", s.handlePreflight)
	})
	r.Group(func(r chi.Router) {
		// Downloads, through resolve or raw, spend the download budget.
		// Caches never store them (Cache-Control: no-store), so they
		// carry CORS headers only when asked.
		r.Use(s.corsOnOrigin, s.limit(budgetDownload))
		getHead(r, "/{org}/{name}/resolve/{rev}/*", s.handleResolve)
		getHead(r, "/{org}/{name}/raw/{rev}/*", s.handleResolve)
		r.Options("/{org}/{name}/resolve/{rev}/*", s.handlePreflight)
		r.Options("/{org}/{name}/raw/{rev}/*", s.handlePreflight)
	})
	return r
}

// getHead registers h for GET and HEAD on pattern, because RFC 9110
// requires HEAD wherever GET is served. A handler that responds to HEAD
// differently, as handleResolve does, checks r.Method itself. For the
// other handlers net/http discards the body of a HEAD response.
func getHead(r chi.Router, pattern string, h http.HandlerFunc) {
	r.Get(pattern, h)
	r.Head(pattern, h)
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errorf(http.StatusNotFound, "",
		"no route for "+truncate(r.Method, maxLogMethod)+" "+
			truncate(r.URL.EscapedPath(), maxLogText)))
}

// handleUnknownAPI responds with 405 to an API route requested with a
// method it does not serve, and with 404 to a path no API route serves.
func (s *Server) handleUnknownAPI(w http.ResponseWriter, r *http.Request) {
	if allowed := s.allowedMethods(r.URL.EscapedPath()); len(allowed) > 0 {
		s.writeError(w, r, methodNotAllowed(w, r, allowed))
		return
	}
	s.writeError(w, r, unknownAPI(r))
}

// unknownAPI returns the 404 error for a path that no API route serves.
func unknownAPI(r *http.Request) *Error {
	return errorf(http.StatusNotFound, "NotFound",
		"unknown API endpoint "+truncate(r.URL.EscapedPath(), maxLogText))
}

// handleMethodNotAllowed responds with 405 to a method that a route
// serving the path does not accept. chi also calls it for a method that no
// route registers, whatever the path, so a path that no route serves
// gets the same 404 here as with any other method.
func (s *Server) handleMethodNotAllowed(w http.ResponseWriter,
	r *http.Request,
) {
	allowed := s.allowedMethods(r.URL.EscapedPath())
	switch {
	case len(allowed) > 0:
		s.writeError(w, r, methodNotAllowed(w, r, allowed))
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.writeError(w, r, unknownAPI(r))
	default:
		s.handleNotFound(w, r)
	}
}

// publicBase returns the base URL for absolute links in responses.
func (s *Server) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
