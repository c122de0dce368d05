package server

import (
	"net/http"
	"time"
)

// budget names the rate-limit budget a route spends.
type budget int

const (
	budgetAPI budget = iota
	budgetDownload
)

// LimitDecision is the outcome of one rate-limit check.
type LimitDecision struct {
	// Client is the client key, safe to log.
	Client string

	// Allowed reports whether the request may proceed.
	Allowed bool

	// RetryAfter is the wait before a retry succeeds, when not allowed.
	RetryAfter time.Duration

	// SetHeaders, when set, adds the rate-limit headers to a response.
	SetHeaders func(h http.Header)
}

// Limiter decides whether a client may make a request.
type Limiter interface {
	// Allow spends one token of the download or API budget of the
	// request's client.
	Allow(r *http.Request, download bool) LimitDecision

	// ClientKey returns the client key of r, safe to log.
	ClientKey(r *http.Request) string
}

// limit spends one token of b per request. OPTIONS requests pass free.
func (s *Server) limit(b budget) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter,
			r *http.Request,
		) {
			info := requestInfoFrom(r.Context())
			if s.cfg.Limiter == nil {
				info.client = clientAddr(r)
				next.ServeHTTP(w, r)
				return
			}
			if r.Method == http.MethodOptions {
				info.client = s.cfg.Limiter.ClientKey(r)
				next.ServeHTTP(w, r)
				return
			}

			d := s.cfg.Limiter.Allow(r, b == budgetDownload)
			info.client = d.Client
			s.metrics.limitDecision(b, d.Allowed)
			if d.SetHeaders != nil {
				d.SetHeaders(w.Header())
			}
			if !d.Allowed {
				s.writeError(w, r, &Error{
					Status:     http.StatusTooManyRequests,
					Code:       "RateLimited",
					Message:    "rate limit exceeded; retry later",
					RetryAfter: d.RetryAfter,
				})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// clientAddr returns the peer address of r without its port.
func clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	return host
}
