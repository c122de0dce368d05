package server

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// CORS response headers. Browsers let a script on another origin read a
// response only when it carries them, and read only the safelisted
// response headers plus those exposed here. Credentials are never
// allowed: the gateway has no cookies or sessions to protect, and
// "Access-Control-Allow-Origin: *" would be rejected with them.
const (
	corsExposeHeaders = "X-Repo-Commit, X-Linked-Etag, X-Linked-Size, " +
		"X-Error-Code, X-Error-Message, ETag, Content-Range, Link, " +
		"X-Url-Expires, Retry-After, X-Request-Id, Repr-Digest, " +
		"RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, " +
		"RateLimit-Policy"
	corsAllowMethods = "GET, HEAD, POST"
	corsAllowHeaders = "Authorization, Content-Type, Range, X-Request-Id"
	corsMaxAge       = "600"
)

// ParseOrigins parses a comma-separated list of origins allowed to read
// the gateway's API and download responses from a browser script. "*"
// alone allows every origin. Each other entry is an origin as browsers
// send it, "scheme://host[:port]" with scheme http or https and no path.
// It returns the entries in lower case with spaces and a trailing slash
// removed, or an error naming the first invalid entry.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for entry := range strings.SplitSeq(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		origin, err := normalizeOrigin(entry)
		if err != nil {
			return nil, err
		}
		out = append(out, origin)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("origin list %q is empty; use * to allow "+
			"every origin", list)
	}
	if len(out) > 1 && slices.Contains(out, "*") {
		return nil, fmt.Errorf("origin list %q mixes * with origins; "+
			"use * alone or list the origins", list)
	}
	return out, nil
}

// normalizeOrigin checks one allowed origin and returns its normal form.
func normalizeOrigin(entry string) (string, error) {
	if entry == "*" {
		return entry, nil
	}
	u, err := url.Parse(strings.TrimSuffix(entry, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
		u.Host == "" || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("origin %q is not http(s)://host[:port] "+
			"without a path", entry)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// corsPolicy decides which origins may read responses. It is read-only
// after newCORSPolicy and safe for concurrent use.
type corsPolicy struct {
	anyOrigin bool
	origins   map[string]bool
}

// newCORSPolicy returns the policy for origins as ParseOrigins returns
// them. An empty list allows every origin.
func newCORSPolicy(origins []string) *corsPolicy {
	p := &corsPolicy{origins: make(map[string]bool, len(origins))}
	for _, o := range origins {
		if o == "*" {
			p.anyOrigin = true
		}
		p.origins[o] = true
	}
	if len(origins) == 0 {
		p.anyOrigin = true
	}
	return p
}

// allowOrigin sets Access-Control-Allow-Origin when the request's origin
// may read the response, and reports whether it may. With a list of
// origins it echoes the matching one and adds "Vary: Origin", because
// the response then depends on the Origin header.
func (p *corsPolicy) allowOrigin(h http.Header, origin string) bool {
	if p.anyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
		return true
	}
	h.Add("Vary", "Origin")
	if origin == "" || !p.origins[strings.ToLower(origin)] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	return true
}

// cors adds the CORS headers to every response of the routes it wraps,
// including errors and rate-limit rejections, so that a script can read
// why a request failed. It must run before the rate limiter.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.setCORS(w.Header(), r)
		next.ServeHTTP(w, r)
	})
}

// corsOnOrigin is cors for responses that no cache stores: it adds the
// CORS headers only to requests with an Origin header. Browsers send
// Origin with every cross-origin request, and the headers would cost
// every other download about 330 bytes.
func (s *Server) corsOnOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			s.setCORS(w.Header(), r)
		}
		next.ServeHTTP(w, r)
	})
}

// setCORS sets the CORS headers of the response to r.
func (s *Server) setCORS(h http.Header, r *http.Request) {
	if s.corsPolicy.allowOrigin(h, r.Header.Get("Origin")) &&
		r.Method != http.MethodOptions {
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	}
}

// handlePreflight responds to an OPTIONS request with 204 and an Allow
// header listing the methods the path serves, the same list a 405 sends.
// For a CORS preflight from an allowed origin it also lists the methods
// and request headers a script may use. A path that no route serves gets
// 404 instead. The cors middleware has already set the origin, and
// OPTIONS spends no rate-limit token.
func (s *Server) handlePreflight(w http.ResponseWriter, r *http.Request) {
	allowed := s.allowedMethods(r.URL.EscapedPath())
	if len(allowed) == 0 {
		s.handleUnknownAPI(w, r)
		return
	}
	h := w.Header()
	h.Set("Allow", strings.Join(allowed, ", "))
	preflight := r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != ""
	if preflight && h.Get("Access-Control-Allow-Origin") != "" {
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
	}
	w.WriteHeader(http.StatusNoContent)
}
