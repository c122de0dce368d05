package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestRetryAfterRetrySucceeds drains a bucket, sends a request that is
// rejected, and retries after exactly Retry-After.
func TestRetryAfterRetrySucceeds(t *testing.T) {
	tests := []struct {
		name  string
		limit Limit
		gap   time.Duration // after draining, before the rejected request
	}{
		{"one per second", Limit{Rate: 1, Burst: 3}, 0},
		{"fast rate rounds up to 1s", Limit{Rate: 50, Burst: 5}, 0},
		{"partial refill", Limit{Rate: 1, Burst: 2}, 300 * time.Millisecond},
		{"slow rate", Limit{Rate: 0.3, Burst: 1}, 0},
		{"slow rate partial", Limit{Rate: 0.3, Burst: 4}, 2 * time.Second},
		{"odd rate", Limit{Rate: 7.3, Burst: 13}, 100 * time.Millisecond},
		{"min rate", Limit{Rate: MinRate, Burst: 1}, 17 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Download = tc.limit
			l, clock := newTestLimiter(t, cfg)
			r := newRequest(t, "192.0.2.10:4000")

			drained := countAllowed(l, r, Download, tc.limit.Burst)
			if drained != tc.limit.Burst {
				t.Fatalf("allowed %d of %d burst requests", drained,
					tc.limit.Burst)
			}
			clock.Advance(tc.gap)
			rejected := l.Allow(r, Download)
			if rejected.Allowed {
				t.Fatalf("Allow after draining = allowed, want rejected")
			}

			want := expectedRetryAfter(t, tc.limit, tc.gap)
			if rejected.RetryAfter != want {
				t.Errorf("RetryAfter = %v, want %v (the rate.Limiter "+
					"delay rounded up, at least 1s)", rejected.RetryAfter, want)
			}
			checkRetryHeader(t, rejected)

			if rejected.RetryAfter > time.Second {
				clock.Advance(rejected.RetryAfter - time.Second)
				if d := l.Allow(r, Download); d.Allowed {
					t.Errorf("Allow 1s before Retry-After = allowed, want " +
						"rejected: Retry-After was not the smallest whole " +
						"second")
				}
				clock.Advance(time.Second)
			} else {
				clock.Advance(rejected.RetryAfter)
			}
			if d := l.Allow(r, Download); !d.Allowed {
				t.Errorf("Allow after Retry-After %v = rejected, want allowed",
					rejected.RetryAfter)
			}
		})
	}
}

// expectedRetryAfter gets from rate.Limiter the delay of the next request
// after a burst and a gap, and rounds it up to whole seconds, at least 1.
func expectedRetryAfter(tb testing.TB, l Limit, gap time.Duration) time.Duration {
	tb.Helper()
	start := newFakeClock().Now()
	ref := rate.NewLimiter(rate.Limit(l.Rate), l.Burst)
	if !ref.AllowN(start, l.Burst) {
		tb.Fatalf("rate.Limiter rejected the initial burst of %d", l.Burst)
	}
	delay := ref.ReserveN(start.Add(gap), 1).DelayFrom(start.Add(gap))
	secs := math.Max(1, math.Ceil(delay.Seconds()))
	return time.Duration(secs) * time.Second
}

func checkRetryHeader(tb testing.TB, d Decision) {
	tb.Helper()
	h := http.Header{}
	d.SetHeaders(h)
	want := d.RetryAfter / time.Second
	if got := h.Get("Retry-After"); got != strconv.FormatInt(int64(want), 10) {
		tb.Errorf("Retry-After header = %q, want %d", got, want)
	}
	if d.RetryAfter < time.Second || d.RetryAfter%time.Second != 0 {
		tb.Errorf("RetryAfter = %v, want whole seconds, at least 1s",
			d.RetryAfter)
	}
}

func TestSetHeaders(t *testing.T) {
	tests := []struct {
		name     string
		limit    Limit
		requests int
		want     map[string]string
	}{
		{
			name:     "first request",
			limit:    Limit{Rate: 10, Burst: 100},
			requests: 1,
			want: map[string]string{
				"RateLimit-Limit":     "100",
				"RateLimit-Remaining": "99",
				"RateLimit-Reset":     "1", // 0.1s rounded up
				"RateLimit-Policy":    "100;w=10",
				"Retry-After":         "",
			},
		},
		{
			name:     "rejected",
			limit:    Limit{Rate: 0.5, Burst: 2},
			requests: 3,
			want: map[string]string{
				"RateLimit-Limit":     "2",
				"RateLimit-Remaining": "0",
				"RateLimit-Reset":     "4",
				"RateLimit-Policy":    "2;w=4",
				"Retry-After":         "2",
			},
		},
		{
			name:     "rate above burst",
			limit:    Limit{Rate: 50, Burst: 10},
			requests: 10,
			want: map[string]string{
				"RateLimit-Limit":     "10",
				"RateLimit-Remaining": "0",
				"RateLimit-Reset":     "1",
				"RateLimit-Policy":    "10;w=1",
				"Retry-After":         "",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.API = tc.limit
			l, _ := newTestLimiter(t, cfg)
			r := newRequest(t, "198.51.100.1:1")
			var d Decision
			for range tc.requests {
				d = l.Allow(r, API)
			}

			h := http.Header{"Retry-After": {"stale"}}
			d.SetHeaders(h)
			for name, want := range tc.want {
				if got := h.Get(name); got != want {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestDecisionFields(t *testing.T) {
	l, clock := newTestLimiter(t, testConfig()) // Download 1/s, burst 3
	r := newRequest(t, "192.0.2.1:1")

	d := l.Allow(r, Download)
	if !d.Allowed || d.Remaining != 2 || d.Reset != time.Second {
		t.Errorf("first Allow = {Allowed %v, Remaining %d, Reset %v}, "+
			"want {true, 2, 1s}", d.Allowed, d.Remaining, d.Reset)
	}
	if d.Budget != Download || d.Limit != testConfig().Download {
		t.Errorf("first Allow = {Budget %v, Limit %+v}, want {download, %+v}",
			d.Budget, d.Limit, testConfig().Download)
	}
	if d.Key.String() != "192.0.2.1" || d.Overflow {
		t.Errorf("first Allow = {Key %v, Overflow %v}, want {192.0.2.1, "+
			"false}", d.Key, d.Overflow)
	}

	clock.Advance(500 * time.Millisecond)
	d = l.Allow(r, API) // the API budget is separate
	if !d.Allowed || d.Remaining != 4 {
		t.Errorf("API Allow = {Allowed %v, Remaining %d}, want {true, 4}",
			d.Allowed, d.Remaining)
	}
	d = l.Allow(r, Download)
	if d.Remaining != 1 || d.Reset != 1500*time.Millisecond {
		t.Errorf("second download Allow = {Remaining %d, Reset %v}, "+
			"want {1, 1.5s}", d.Remaining, d.Reset)
	}
}

func TestAllowPanicsOnInvalidBudget(t *testing.T) {
	l, _ := newTestLimiter(t, testConfig())
	defer func() {
		if recover() == nil {
			t.Errorf("Allow(r, Budget(7)) did not panic")
		}
	}()
	l.Allow(newRequest(t, "192.0.2.1:1"), Budget(7))
}
