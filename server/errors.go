package server

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Hugging Face error codes, sent in the X-Error-Code header. The clients
// map them to their own exception types.
const (
	codeRepoNotFound     = "RepoNotFound"
	codeRevisionNotFound = "RevisionNotFound"
	codeEntryNotFound    = "EntryNotFound"
)

// Error is an error with an HTTP response. Message is sent to the
// client, and Err is the detail that goes to the log only.
type Error struct {
	// Status is the HTTP status code.
	Status int

	// Code is sent as X-Error-Code. Empty means the status text
	// without spaces, such as "NotFound" or "ServiceUnavailable", so
	// every error response carries a code.
	Code string

	// Message is the client-facing text.
	Message string

	// Commit is sent as X-Repo-Commit when not empty.
	Commit string

	// RetryAfter is sent as Retry-After, rounded up to whole seconds,
	// when positive.
	RetryAfter time.Duration

	// Err is the underlying cause, logged but never sent.
	Err error

	// LogMessage, when set, replaces Message in the access log, because
	// Message quotes a value from the query string, which is never
	// logged.
	LogMessage string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// logText returns the text of e for the access log.
func (e *Error) logText() string {
	if e.LogMessage != "" {
		return e.LogMessage
	}
	return e.Message
}

// queryError returns err, an error about the query parameter param,
// with a log message that names the parameter but not its value.
func queryError(param string, err error) error {
	var e *Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	c := *e
	c.LogMessage = "invalid " + param + " parameter"
	return &c
}

// errorf returns an Error with the given status and client message.
func errorf(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// writeError sends err to the client as JSON, or as an HTML page when the
// request's Accept header prefers HTML, as a browser's does. Both carry
// the same status and X-Error-* headers. An error that is not an *Error
// becomes a 500. The detail of a 500 is logged at ERROR and never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request,
	err error,
) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{
			Status:  http.StatusInternalServerError,
			Message: "internal error",
			Err:     err,
		}
	}
	info := requestInfoFrom(r.Context())
	if info != nil {
		info.err = e
	}
	// Only a 500 is unexpected. Other 5xx, such as 503 while the catalog
	// or the credentials are unavailable, have causes that their owners
	// log once per change. So they go to the access log only, because
	// one ERROR line per request would flood the log during an outage.
	if e.Status == http.StatusInternalServerError {
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDFrom(r.Context())),
			slog.Int("status", e.Status),
			slog.String("err", e.Error()))
	}

	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Error-Code", errorCode(e))
	h.Set("X-Error-Message", headerSafe(e.Message, 200))
	if e.Commit != "" {
		h.Set("X-Repo-Commit", e.Commit)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(ceilSeconds(e.RetryAfter)))
	}
	if prefersHTML(r.Header.Get("Accept")) {
		s.writeErrorPage(w, r, e)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(map[string]string{"error": e.Message})
	}
}

// errorCode returns e.Code, or the status text without spaces when the
// code is empty.
func errorCode(e *Error) string {
	if e.Code != "" {
		return e.Code
	}
	text := http.StatusText(e.Status)
	if text == "" {
		return "Error"
	}
	return strings.ReplaceAll(text, " ", "")
}

// ceilSeconds rounds d up to whole seconds, with a minimum of one.
func ceilSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// headerSafe returns s as a header value of at most n bytes, with each
// byte outside printable ASCII replaced by '?', because messages may
// quote request paths.
func headerSafe(s string, n int) string {
	b := []byte(truncate(s, n))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
