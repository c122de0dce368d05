package ratelimit

import (
	"net/http"
	"time"
)

// Decision is the outcome of [Limiter.Allow] for one request.
type Decision struct {
	// Allowed reports whether the request may proceed. When it is false
	// the server responds with 429 Too Many Requests.
	Allowed bool

	// Key is the client the request was counted against.
	Key Key

	// Budget is the budget the request drew from.
	Budget Budget

	// Limit is the rate and burst that applied.
	Limit Limit

	// Remaining is the number of whole tokens left after this request.
	Remaining int

	// Reset is the time until the bucket is full again.
	Reset time.Duration

	// RetryAfter is zero when Allowed. Otherwise it is a whole number of
	// seconds, at least one, after which the same request is admitted if
	// the client sends nothing else on this budget in between.
	RetryAfter time.Duration

	// Overflow reports that the store was full, so the request drew from
	// the bucket that all untracked new clients share.
	Overflow bool

	// fields are the header values of Limit made by New, or nil in a
	// Decision that Allow did not return.
	fields *fieldValues
}

// SetHeaders sets the rate-limit fields named in
// draft-ietf-httpapi-ratelimit-headers-06 on h, and Retry-After when the
// request was rejected:
//
//	RateLimit-Limit:     the burst, the most tokens the bucket holds
//	RateLimit-Remaining: Remaining
//	RateLimit-Reset:     seconds until the bucket is full, rounded up
//	RateLimit-Policy:    "B;w=W", B tokens refilled in W whole seconds,
//	                     W = ceil(B / rate), at least 1
//	Retry-After:         RetryAfter in seconds, only when not Allowed
//
// A client that sends at most B requests in any W seconds is never limited.
// SetHeaders replaces existing values of these fields and removes a stale
// Retry-After when the request was allowed. It omits RateLimit-Policy when
// the Decision was not returned by [Limiter.Allow].
//
// A Decision from Allow sets values that New prepared and that all
// responses share, so SetHeaders allocates nothing unless a number exceeds
// both the burst and the refill window, or 1023. Change these fields with
// the Header methods, never by writing into h[key][i].
func (d Decision) SetHeaders(h http.Header) {
	v := d.fields
	if v == nil {
		v = &fieldValues{}
	}
	h[fieldLimit] = v.limitValue(d.Limit.Burst)
	h[fieldRemaining] = v.number(int64(d.Remaining))
	h[fieldReset] = v.number(ceilSeconds(d.Reset))
	if v.policy != nil {
		h[fieldPolicy] = v.policy
	}
	if d.Allowed {
		delete(h, fieldRetryAfter)
		return
	}
	h[fieldRetryAfter] = v.number(ceilSeconds(d.RetryAfter))
}

// decide takes one token from b at t and writes the outcome to d, leaving
// Key, Budget and Overflow to the caller. The caller holds the lock that
// guards b. It writes through a pointer because Decision is large enough
// that copying it shows in the cost of a decision.
func decide(d *Decision, b *bucket, p *bucketParams, t int64) {
	ok, tokens := b.take(p, t)
	d.Allowed = ok
	d.Limit = p.limit
	d.Remaining = max(0, int(tokens))
	d.Reset = resetAfter(p, tokens)
	d.fields = p.fields
	if !ok {
		d.RetryAfter = b.retryAfter(p, t, tokens)
	}
}
