package ratelimit

import (
	"strconv"
)

// The header fields that SetHeaders sets, in the canonical form that
// http.Header uses as the map key, so that SetHeaders can assign them
// without canonicalizing on every request.
const (
	fieldLimit      = "Ratelimit-Limit"
	fieldRemaining  = "Ratelimit-Remaining"
	fieldReset      = "Ratelimit-Reset"
	fieldPolicy     = "Ratelimit-Policy"
	fieldRetryAfter = "Retry-After"
)

// maxCachedNumber is the maximum count of decimal strings cached per
// Limit. With a burst and a refill window of at most 1023 (seconds), every
// RateLimit-* and Retry-After value comes from the cache.
const maxCachedNumber = 1024

// fieldValues are the header field values of one Limit, made once by New
// so that a response does not format or allocate them. Every value is a
// slice of length and capacity 1, so Header.Add on it appends to a copy
// rather than to the shared array. It is read-only after New.
type fieldValues struct {
	burst   int      // Limit.Burst, whose decimal form is limit
	limit   []string // RateLimit-Limit
	policy  []string // RateLimit-Policy
	numbers []string // numbers[n] is n in decimal
}

// newFieldValues returns the field values of l. The number cache covers
// the values that l can produce: Remaining up to the burst, and Reset and
// Retry-After up to the refill window, up to maxCachedNumber.
func newFieldValues(l Limit) *fieldValues {
	window := 1
	if l.Rate > 0 {
		window = int(min(float64(maxCachedNumber),
			float64(l.Burst)/l.Rate+1))
	}
	n := min(max(l.Burst, window)+1, maxCachedNumber)
	v := &fieldValues{
		burst:   l.Burst,
		policy:  []string{policyValue(l)},
		numbers: make([]string, max(n, 0)),
	}
	for i := range v.numbers {
		v.numbers[i] = strconv.Itoa(i)
	}
	v.limit = v.number(int64(l.Burst))
	return v
}

// number returns n in decimal as a header value, from the cache when n is
// in it.
func (v *fieldValues) number(n int64) []string {
	if n >= 0 && n < int64(len(v.numbers)) {
		return v.numbers[n : n+1 : n+1]
	}
	return []string{strconv.FormatInt(n, 10)}
}

// limitValue returns burst as a RateLimit-Limit value: the prepared one
// when burst is the burst of v.
func (v *fieldValues) limitValue(burst int) []string {
	if v.limit != nil && burst == v.burst {
		return v.limit
	}
	return v.number(int64(burst))
}
