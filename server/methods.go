package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// unknownAPIPattern is the catch-all route that returns 404 for API
// paths no other route serves.
const unknownAPIPattern = "/api/*"

// allowedMethods returns the methods of the routes that match the
// escaped path, leaving out the unknown-API catch-all. It returns nil
// when no GET, HEAD or POST route serves the path, and lists OPTIONS
// only next to one of those, because the CORS preflight route matches
// every API path.
func (s *Server) allowedMethods(escapedPath string) []string {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodHead,
		http.MethodPost} {
		p := s.router.Find(chi.NewRouteContext(), m, escapedPath)
		if p != "" && p != unknownAPIPattern {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 && s.router.Find(chi.NewRouteContext(),
		http.MethodOptions, escapedPath) != "" {
		allowed = append(allowed, http.MethodOptions)
	}
	return allowed
}

// methodNotAllowed returns the 405 error for r, and sets the Allow
// header to allowed, the methods that the path serves.
func methodNotAllowed(w http.ResponseWriter, r *http.Request,
	allowed []string,
) *Error {
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	return errorf(http.StatusMethodNotAllowed, "",
		"method "+truncate(r.Method, maxLogMethod)+" is not allowed here")
}
