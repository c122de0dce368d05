package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
)

// requestInfo collects what the handlers learn about a request for the
// access log. It is owned by one request.
type requestInfo struct {
	id     string
	model  string
	client string
	err    *Error

	// file is set for requests for a file's content, whose response may
	// count as a download of model.
	file bool
}

type infoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

func requestIDFrom(ctx context.Context) string {
	if info := requestInfoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// setModel records the model a request is about, for the access log.
func setModel(r *http.Request, model string) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.model = model
	}
}

// validRequestID reports whether id can be echoed and logged as it is:
// 1 to 128 characters of letters, digits, '-', '_', '.' and ':'.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
			'0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' ||
			c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// recoverPanic turns a panic in a handler into a logged 500.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			s.log.Error("handler panic", "panic", fmt.Sprint(v),
				"stack", string(debug.Stack()))
			s.writeError(w, r, fmt.Errorf("panic: %v", v))
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter records the status and body size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// requestState is a request's context together with chi's routing
// state, the facts for the access log and the recorded status. One
// request owns it, and ServeHTTP reuses it once the handler has returned.
type requestState struct {
	context.Context
	route chi.Context
	info  requestInfo
	sw    statusWriter
}

// Value returns the routing state for chi and the request's facts for
// the handlers, so that a request needs one context for both.
func (st *requestState) Value(key any) any {
	switch key {
	case chi.RouteCtxKey:
		return &st.route
	case infoKey{}:
		return &st.info
	}
	return st.Context.Value(key)
}

// ServeHTTP serves r, records its metrics and writes its access-log
// record. It sets the request id and routes on the escaped path, so
// that an encoded slash stays inside its segment. The metrics and the
// record are in place before the response is sent.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.now()
	st, _ := s.states.Get().(*requestState)
	if st == nil {
		st = new(requestState)
	}
	st.Context = r.Context()
	st.route.Routes = s.router
	st.route.RoutePath = r.URL.EscapedPath()

	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = s.requestIDs.next()
	}
	w.Header().Set("X-Request-Id", id)
	st.info.id = id
	st.sw.ResponseWriter = w
	r = r.WithContext(st)

	s.route(&st.sw, r)
	s.finish(r, st, start, s.now())

	st.Context = nil
	st.route.Reset()
	st.info = requestInfo{}
	st.sw = statusWriter{}
	s.states.Put(st)
}

// route passes r to the router and counts it as in flight meanwhile,
// also when the handler aborts with a panic.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	s.metrics.inFlight(1)
	defer s.metrics.inFlight(-1)
	s.router.ServeHTTP(w, r)
}

// finish records the metrics and writes the access-log record of a
// request whose handler has returned.
func (s *Server) finish(r *http.Request, st *requestState,
	start, end time.Time,
) {
	sw, info := &st.sw, &st.info
	elapsed := end.Sub(start)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	route := st.route.RoutePattern()
	if route == "" {
		route = "unmatched"
	}
	s.metrics.request(route, r.Method, sw.status, elapsed)

	download := info.file && countsAsDownload(r, sw.status) &&
		s.metrics.download(info.model)
	if info.client == "" {
		info.client = s.clientKey(r)
	}
	s.logRequest(r, info, route, sw, end, elapsed, download)
}

// requestIDs is a generator of request ids: a random prefix chosen at
// start-up, so that replicas and restarts differ, and a counter. An id
// is 24 lowercase hex digits. It is safe for concurrent use.
type requestIDs struct {
	prefix [12]byte
	count  atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	rand.Read(b[:])
	g := new(requestIDs)
	hex.Encode(g.prefix[:], b[:])
	return g
}

// next returns a new request id. The counter's low 48 bits repeat only
// after 2^48 requests.
func (g *requestIDs) next() string {
	n := g.count.Add(1)
	var b [24]byte
	copy(b[:], g.prefix[:])
	const digits = "0123456789abcdef"
	for i := len(b) - 1; i >= len(g.prefix); i-- {
		b[i] = digits[n&0xf]
		n >>= 4
	}
	return string(b[:])
}

// Maximum lengths in bytes of the method, path and error message written
// to the access log. Clients choose them, and a request line may be as
// long as the server's header limit.
const (
	maxLogMethod = 32
	maxLogText   = 1024
)

// maxEchoName caps a model name, revision, path segment or asset name
// that an error message repeats back to the client. A request line may
// be as long as the server's header limit, and the body need not carry
// all of it.
const maxEchoName = 256

// logRequest writes the access-log record of r when the logger enables
// LevelInfo. The record goes to Config.JSONAccessLog when that is set,
// and through the logger otherwise. It logs the escaped path but never
// the query string, the request headers or the Location of a redirect,
// so no signed URL, token or Authorization value reaches the log.
func (s *Server) logRequest(r *http.Request, info *requestInfo,
	route string, sw *statusWriter, end time.Time, elapsed time.Duration,
	download bool,
) {
	ctx := r.Context()
	h := s.log.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}

	e := accessEntry{
		time:     end,
		id:       info.id,
		method:   truncate(r.Method, maxLogMethod),
		route:    route,
		path:     truncate(r.URL.EscapedPath(), maxLogText),
		status:   sw.status,
		bytes:    sw.bytes,
		duration: elapsed,
		client:   info.client,
		model:    info.model,
		download: download,
	}
	if info.err != nil {
		e.hasError = true
		e.errorMessage = truncate(info.err.logText(), maxLogText)
	}
	if s.accessJSON != nil {
		s.accessJSON.write(&e)
		return
	}
	h.Handle(ctx, e.slogRecord())
}

// clientKey returns the client key of r for the access log: the
// limiter's key when there is a limiter, and the peer address otherwise.
func (s *Server) clientKey(r *http.Request) string {
	if s.cfg.Limiter != nil {
		return s.cfg.Limiter.ClientKey(r)
	}
	return clientAddr(r)
}

// elapsedSince is a helper for handlers that time a step.
func (s *Server) elapsedSince(t time.Time) time.Duration {
	return s.now().Sub(t)
}
