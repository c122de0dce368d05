package server

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"path"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
)

// handleResolve handles a download request for one file.
//
// GET responds with 302 to a pre-signed URL and an empty body, or with 200
// and the URL in JSON when the query has redirect=false. HEAD gets
// 200 with the file's size and metadata and no Location, because the URL
// is signed for GET and S3 rejects it for HEAD. A zero-byte file is
// answered inline with 200, because S3 answers any Range on an empty
// object with 416.
func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	fr, err := parseFileRequest(chi.URLParam(r, "org"),
		chi.URLParam(r, "name"), chi.URLParam(r, "rev"),
		chi.URLParam(r, "*"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	urlOnly, err := wantsURLOnly(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	m, f, commit, err := s.lookupFile(r.Context(), fr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	setModel(r, m.ID)
	setFileRequest(r)

	h := w.Header()
	etag := f.QuotedETag()
	setHeaders(h,
		"X-Repo-Commit", commit,
		"Etag", etag,
		"X-Linked-Etag", etag,
		"X-Linked-Size", strconv.FormatInt(f.Size, 10),
		"Cache-Control", "no-store")
	if sum, ok := f.SHA256(); ok {
		h.Set("Repr-Digest", reprDigest(sum))
	}

	if r.Method == http.MethodHead || f.Size == 0 && !urlOnly {
		s.answerInline(w, r, m, f)
		return
	}

	start := s.now()
	u, err := s.signer.Presign(r.Context(), f.Key, path.Base(f.Path))
	s.metrics.presigned(s.elapsedSince(start))
	if err != nil {
		s.writeError(w, r, presignError(err))
		return
	}
	// The time the URL really stops working: its X-Amz-Expires, or its
	// credentials' expiry less the margin when that is sooner.
	expires := s.expiresText.format(u.Expires)
	if urlOnly {
		h.Set("X-Url-Expires", expires)
		answerURL(w, f, u)
		return
	}
	setHeaders(h, "Location", u.URL, "X-Url-Expires", expires)
	w.WriteHeader(http.StatusFound)
}

// setHeaders sets headers from pairs of canonical name and value. It
// allocates one slice for all the values, where Header.Set allocates
// one per header, which shows in the CPU time of a download. Each value
// gets a capacity of one, so that a later Header.Add copies it instead
// of overwriting the next header's value.
func setHeaders(h http.Header, pairs ...string) {
	values := make([]string, len(pairs)/2)
	for i := range values {
		values[i] = pairs[2*i+1]
		h[pairs[2*i]] = values[i : i+1 : i+1]
	}
}

// timeText caches the text of the last time it formatted. The URLs
// signed within one second expire at the same time, so a download
// formats X-Url-Expires only once a second. It is safe for concurrent
// use.
type timeText struct {
	last atomic.Pointer[formattedTime]
}

type formattedTime struct {
	unixMilli int64
	text      string
}

// format returns t in UTC as timeFormatJSON lays it out.
func (c *timeText) format(t time.Time) string {
	ms := t.UnixMilli()
	if last := c.last.Load(); last != nil && last.unixMilli == ms {
		return last.text
	}
	text := t.UTC().Format(timeFormatJSON)
	c.last.Store(&formattedTime{unixMilli: ms, text: text})
	return text
}

// reprDigest formats a SHA-256 as an RFC 9530 Repr-Digest field value.
func reprDigest(sum [32]byte) string {
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// answerInline responds to HEAD, and to GET of a zero-byte file,
// without a redirect. Only these responses describe the file itself, so
// only they carry Last-Modified and Accept-Ranges.
func (s *Server) answerInline(w http.ResponseWriter, r *http.Request,
	m *catalog.Model, f catalog.File,
) {
	h := w.Header()
	setHeaders(h,
		"Content-Length", strconv.FormatInt(f.Size, 10),
		"Last-Modified", f.ModTime().Format(http.TimeFormat),
		"Accept-Ranges", "bytes")
	if f.Size == 0 {
		h.Set("Content-Range", "bytes */0")
		h.Set("Content-Type", "application/octet-stream")
	}
	w.WriteHeader(http.StatusOK)
}

// lookupFile finds the model, revision and file of fr in the catalog.
// It returns the commit id to report: the current one, which equals the
// requested revision when that was a commit id.
func (s *Server) lookupFile(ctx context.Context, fr fileRequest) (
	*catalog.Model, catalog.File, string, error,
) {
	m, commit, err := s.lookupRevision(ctx, fr.model, fr.rev)
	if err != nil {
		return nil, catalog.File{}, "", err
	}
	f, ok := m.File(fr.path)
	if !ok {
		e := errorf(http.StatusNotFound, codeEntryNotFound,
			"entry "+strconv.Quote(fr.path)+" not found in "+m.ID)
		e.Commit = commit
		return nil, catalog.File{}, "", e
	}
	return m, f, commit, nil
}

// lookupRevision finds a model and checks that rev is "main", "HEAD" or
// the model's current commit id. A stale commit id is rejected, so a
// client never mixes files from two versions of a model.
func (s *Server) lookupRevision(ctx context.Context, model, rev string) (
	*catalog.Model, string, error,
) {
	snap, err := s.cat.Snapshot(ctx)
	if err != nil {
		return nil, "", catalogUnavailable(err)
	}
	m, ok := snap.Model(model)
	if !ok {
		return nil, "", errorf(http.StatusNotFound, codeRepoNotFound,
			"model "+strconv.Quote(truncate(model, maxEchoName))+
				" not found")
	}
	if rev != "main" && rev != "HEAD" && rev != m.Commit {
		return nil, "", errorf(http.StatusNotFound, codeRevisionNotFound,
			"revision "+strconv.Quote(truncate(rev, maxEchoName))+
				" not found in "+model+
				"; use main or the current commit "+m.Commit)
	}
	return m, m.Commit, nil
}

func catalogUnavailable(err error) *Error {
	return &Error{
		Status:     http.StatusServiceUnavailable,
		Message:    "model catalog is not available yet; retry shortly",
		RetryAfter: 5e9,
		Err:        err,
	}
}

// presignError maps a signing failure to a 503 with Retry-After when the
// credentials are the cause, and to a 500 otherwise.
func presignError(err error) *Error {
	var ue *presign.UnavailableError
	if errors.As(err, &ue) {
		return &Error{
			Status:     http.StatusServiceUnavailable,
			Message:    "download URLs cannot be signed right now; retry later",
			RetryAfter: ue.RetryAfter,
			Err:        err,
		}
	}
	return &Error{Status: http.StatusInternalServerError,
		Message: "could not sign the download URL", Err: err}
}
