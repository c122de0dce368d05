package server

import (
	"net/http"
	"sync/atomic"
	"time"
)

// inFlightRetryAfter is the Retry-After of a request rejected by the
// in-flight cap. The gateway serves requests from memory, so a burst
// drains within a second unless the catalog or the credentials stall.
const inFlightRetryAfter = time.Second

// capExempt reports whether a request bypasses the in-flight cap. The
// probes must not fail because the gateway is busy: a failed liveness
// probe restarts a healthy process, and a failed readiness probe moves
// the replica's traffic onto the others, which may then overload too.
// The metrics must stay readable to show the overload.
func capExempt(r *http.Request) bool {
	p := r.URL.Path
	return p == "/healthz" || p == "/readyz" || p == "/metrics"
}

// capInFlight returns a middleware that lets at most max requests run at
// once and rejects the others at once with 503 and a Retry-After.
// A max of zero returns a middleware that caps nothing.
//
// Only requests whose headers have arrived count. Slow clients that
// never finish their headers are bounded by the http.Server's
// ReadHeaderTimeout and MaxHeaderBytes instead, so they cannot use up
// the cap and lock out other clients.
func (s *Server) capInFlight(max int) func(http.Handler) http.Handler {
	var running atomic.Int64
	return func(next http.Handler) http.Handler {
		if max <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter,
			r *http.Request,
		) {
			if capExempt(r) {
				next.ServeHTTP(w, r)
				return
			}
			defer running.Add(-1)
			if running.Add(1) > int64(max) {
				s.writeError(w, r, &Error{
					Status:     http.StatusServiceUnavailable,
					Code:       "Overloaded",
					Message:    "too many requests in progress; retry shortly",
					RetryAfter: inFlightRetryAfter,
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
