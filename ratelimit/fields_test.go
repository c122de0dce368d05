package ratelimit

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestFieldNamesCanonical(t *testing.T) {
	tests := []struct{ name, key string }{
		{"RateLimit-Limit", fieldLimit},
		{"RateLimit-Remaining", fieldRemaining},
		{"RateLimit-Reset", fieldReset},
		{"RateLimit-Policy", fieldPolicy},
		{"Retry-After", fieldRetryAfter},
	}
	for _, tc := range tests {
		if got := http.CanonicalHeaderKey(tc.name); got != tc.key {
			t.Errorf("CanonicalHeaderKey(%q) = %q, want the map key %q",
				tc.name, got, tc.key)
		}
	}
}

// TestSetHeadersMatchesFormatting compares every field with strconv for
// limits whose values lie inside and beyond the number cache.
func TestSetHeadersMatchesFormatting(t *testing.T) {
	tests := []struct {
		name     string
		limit    Limit
		requests int
	}{
		{"small", Limit{Rate: 1, Burst: 3}, 4},
		{"burst at cache edge", Limit{Rate: 10, Burst: maxCachedNumber}, 1},
		{"burst beyond cache", Limit{Rate: 10, Burst: 5000}, 2},
		{"long window", Limit{Rate: MinRate, Burst: 2}, 3},
		{"max burst", Limit{Rate: MaxRate, Burst: MaxBurst}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Download = tc.limit
			l, clock := newTestLimiter(t, cfg)
			r := newRequest(t, "192.0.2.1:1")
			h := http.Header{}
			for i := range tc.requests {
				d := l.Allow(r, Download)
				d.SetHeaders(h)
				checkFields(t, h, d)
				clock.Advance(time.Duration(i) * time.Millisecond)
			}
		})
	}
}

// checkFields compares the fields in h with d's values formatted by
// strconv.
func checkFields(tb testing.TB, h http.Header, d Decision) {
	tb.Helper()
	want := map[string]string{
		"RateLimit-Limit":     strconv.Itoa(d.Limit.Burst),
		"RateLimit-Remaining": strconv.Itoa(d.Remaining),
		"RateLimit-Reset":     strconv.FormatInt(ceilSeconds(d.Reset), 10),
		"RateLimit-Policy":    policyValue(d.Limit),
		"Retry-After":         "",
	}
	if !d.Allowed {
		want["Retry-After"] = strconv.FormatInt(ceilSeconds(d.RetryAfter), 10)
	}
	for name, v := range want {
		if got := h.Values(name); v == "" && len(got) != 0 ||
			v != "" && (len(got) != 1 || got[0] != v) {
			tb.Errorf("header %s = %q, want %q", name, got, v)
		}
	}
}

func TestSetHeadersWithoutAllow(t *testing.T) {
	d := Decision{Limit: Limit{Rate: 1, Burst: 7}, Remaining: 4,
		Reset: 2500 * time.Millisecond, RetryAfter: 3 * time.Second}
	h := http.Header{}
	d.SetHeaders(h)
	want := map[string]string{
		"RateLimit-Limit":     "7",
		"RateLimit-Remaining": "4",
		"RateLimit-Reset":     "3",
		"RateLimit-Policy":    "",
		"Retry-After":         "3",
	}
	for name, v := range want {
		if got := h.Get(name); got != v {
			t.Errorf("header %s = %q, want %q", name, got, v)
		}
	}
}

// TestSetHeadersSharedValues checks that changing one response's fields
// with the Header methods leaves the next response's fields intact.
func TestSetHeadersSharedValues(t *testing.T) {
	l, _ := newTestLimiter(t, testConfig())
	r := newRequest(t, "192.0.2.1:1")
	d := l.Allow(r, Download)

	first := http.Header{}
	d.SetHeaders(first)
	first.Add("RateLimit-Limit", "99")
	first.Add("RateLimit-Remaining", "98")
	first.Set("RateLimit-Policy", "1;w=1")

	second := http.Header{}
	d.SetHeaders(second)
	checkFields(t, second, d)
}

func TestSetHeadersAllocations(t *testing.T) {
	l, _ := newTestLimiter(t, testConfig())
	r := newRequest(t, "192.0.2.1:1")
	for i := range testConfig().Download.Burst + 1 {
		d := l.Allow(r, Download)
		h := http.Header{}
		allocs := testing.AllocsPerRun(100, func() { d.SetHeaders(h) })
		if allocs != 0 {
			t.Errorf("request %d (allowed %v): SetHeaders allocates %v "+
				"times, want 0", i+1, d.Allowed, allocs)
		}
	}
}
