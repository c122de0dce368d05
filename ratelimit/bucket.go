package ratelimit

import (
	"math"
	"strconv"
	"time"
)

// bucketParams is a Limit prepared for the bucket arithmetic.
type bucketParams struct {
	limit  Limit
	rate   float64 // tokens per second
	burst  float64
	fields *fieldValues
}

func newBucketParams(l Limit) bucketParams {
	return bucketParams{
		limit:  l,
		rate:   l.Rate,
		burst:  float64(l.Burst),
		fields: newFieldValues(l),
	}
}

// policyValue returns "B;w=W" for burst B and W = ceil(B/rate) seconds, at
// least 1: the bucket holds B tokens and refills them in W seconds. A client
// that sends at most B requests in any W seconds is never limited, because
// B/W is at most the rate.
func policyValue(l Limit) string {
	window := max(1, math.Ceil(float64(l.Burst)/l.Rate))
	return strconv.Itoa(l.Burst) + ";w=" +
		strconv.FormatFloat(window, 'f', 0, 64)
}

// bucket is one token bucket: tokens at time last, in nanoseconds since the
// Limiter's start. A new bucket is full. The arithmetic is that of
// rate.Limiter in golang.org/x/time v0.16.0, so that for a non-decreasing
// clock take gives the same result as AllowN(t, 1) and retryDelay the same
// as ReserveN(t, 1).Delay. When the clock steps back, take adds no tokens
// and keeps last, where rate.Limiter moves last back and later counts the
// same interval twice.
type bucket struct {
	tokens float64
	last   int64
}

func fullBucket(p *bucketParams, t int64) bucket {
	return bucket{tokens: p.burst, last: t}
}

// tokensAt returns the tokens at t without changing b.
func (b *bucket) tokensAt(p *bucketParams, t int64) float64 {
	last := min(b.last, t)
	elapsed := time.Duration(t - last)
	tokens := b.tokens + elapsed.Seconds()*p.rate
	return min(tokens, p.burst)
}

// take removes one token at t if one is available and returns whether it
// did and the tokens left. A rejected take changes nothing.
func (b *bucket) take(p *bucketParams, t int64) (bool, float64) {
	tokens := b.tokensAt(p, t)
	if !allowsOne(p, tokens) {
		return false, tokens
	}
	b.tokens = tokens - 1
	b.last = max(b.last, t)
	return true, b.tokens
}

// allowsOne reports whether a bucket with the given tokens admits one
// request. Like rate.Limiter, it admits a shortfall so small that its wait
// truncates to zero nanoseconds.
func allowsOne(p *bucketParams, tokens float64) bool {
	left := tokens - 1
	return left >= 0 || durationFromTokens(p, -left) <= 0
}

// full reports whether the bucket is full at t, which makes it equal to a
// new bucket.
func (b *bucket) full(p *bucketParams, t int64) bool {
	return b.tokensAt(p, t) >= p.burst
}

// retryAfter returns the whole seconds, at least 1, after which a request
// rejected at t will be admitted if the client sends nothing in between.
// It rounds up the wait for one token and then checks the bucket at that
// instant, so float rounding cannot make the retry fail.
func (b *bucket) retryAfter(p *bucketParams, t int64, tokens float64) time.Duration {
	wait := durationFromTokens(p, 1-tokens)
	secs := max(1, ceilSeconds(wait))

	// Only a refill within a relative 1e-9 of the shortfall can be undone
	// by rounding, so only then recompute the bucket at the retry time.
	if float64(secs)*p.rate > (1-tokens)*(1+1e-9) {
		return time.Duration(secs) * time.Second
	}
	for range 3 {
		at := t + secs*int64(time.Second)
		if allowsOne(p, b.tokensAt(p, at)) {
			break
		}
		secs++
	}
	return time.Duration(secs) * time.Second
}

// resetAfter returns the time until the bucket is full again.
func resetAfter(p *bucketParams, tokens float64) time.Duration {
	return durationFromTokens(p, p.burst-tokens)
}

// durationFromTokens converts tokens to the time they take to accumulate,
// with the same rounding as rate.Limit.durationFromTokens.
func durationFromTokens(p *bucketParams, tokens float64) time.Duration {
	d := tokens / p.rate * float64(time.Second)
	if d > math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(d)
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	secs := int64(d / time.Second)
	if d%time.Second > 0 {
		secs++
	}
	return secs
}
