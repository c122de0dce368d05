package server

import (
	"net/http"
	"time"

	"github.com/modelgate/modelgate/ratelimit"
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
}

// Limiter decides whether a client may make a request.
type Limiter interface {
	// Allow spends one token of the download or API budget of the
	// request's client and returns the decision. It sets the decision's
	// rate-limit header fields, if it has any, on h, the response header.
	Allow(h http.Header, r *http.Request, download bool) LimitDecision

	// ClientKey returns the client key of r, safe to log.
	ClientKey(r *http.Request) string
}

// NewRateLimiter returns l as a Limiter. Allow sets the RateLimit-* fields
// and, on a rejection, Retry-After, as [ratelimit.Decision.SetHeaders]
// does.
func NewRateLimiter(l *ratelimit.Limiter) Limiter {
	return rateLimiter{l}
}

// rateLimiter adapts a ratelimit.Limiter to Limiter. It passes the header
// into Allow, so that no closure over the decision is allocated.
type rateLimiter struct {
	lim *ratelimit.Limiter
}

func (a rateLimiter) Allow(h http.Header, r *http.Request,
	download bool,
) LimitDecision {
	b := ratelimit.API
	if download {
		b = ratelimit.Download
	}
	d := a.lim.Allow(r, b)
	d.SetHeaders(h)
	return LimitDecision{
		Client:     d.Key.String(),
		Allowed:    d.Allowed,
		RetryAfter: d.RetryAfter,
	}
}

func (a rateLimiter) ClientKey(r *http.Request) string {
	return a.lim.ClientKey(r).String()
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

			d := s.cfg.Limiter.Allow(w.Header(), r, b == budgetDownload)
			info.client = d.Client
			s.metrics.limitDecision(b, d.Allowed)
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
