package ratelimit

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// TestBucketMatchesRateLimiter runs the bucket and rate.Limiter side by
// side on random request times and compares every outcome.
func TestBucketMatchesRateLimiter(t *testing.T) {
	tests := []struct {
		name   string
		limit  Limit
		maxGap time.Duration // largest gap between requests
	}{
		{"slow", Limit{Rate: 0.5, Burst: 1}, 3 * time.Second},
		{"small burst", Limit{Rate: 3, Burst: 5}, 700 * time.Millisecond},
		{"odd rate", Limit{Rate: 7.3, Burst: 13}, 300 * time.Millisecond},
		{"third", Limit{Rate: 1000.0 / 3, Burst: 2}, 5 * time.Millisecond},
		{"min rate", Limit{Rate: MinRate, Burst: 2}, 900 * time.Second},
		{"bursty", Limit{Rate: 10, Burst: 1000}, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.limit.Burst)))
			start := newFakeClock().Now()
			p := newBucketParams(tc.limit)
			b := fullBucket(&p, 0)
			ref := rate.NewLimiter(rate.Limit(tc.limit.Rate), tc.limit.Burst)
			var at int64
			allowed := 0

			for i := range 5000 {
				// Bursts of simultaneous requests, then random gaps.
				if rng.IntN(3) == 0 {
					at += rng.Int64N(int64(tc.maxGap))
				}
				now := start.Add(time.Duration(at))

				var d Decision
				decide(&d, &b, &p, at)
				want := ref.AllowN(now, 1)
				if d.Allowed != want {
					t.Fatalf("step %d: Allowed = %v, rate.Limiter = %v",
						i, d.Allowed, want)
				}
				wantLeft := int(math.Max(0, ref.TokensAt(now)))
				if d.Remaining != wantLeft {
					t.Fatalf("step %d: Remaining = %d, rate.Limiter has %d",
						i, d.Remaining, wantLeft)
				}
				if d.Allowed {
					allowed++
				}
			}
			if allowed == 0 || allowed == 5000 {
				t.Errorf("allowed %d of 5000 requests, want some of each "+
					"outcome", allowed)
			}
		})
	}
}

// TestBucketClockStepsBack checks that a clock stepping back adds no tokens
// when it moves forward again.
func TestBucketClockStepsBack(t *testing.T) {
	p := newBucketParams(Limit{Rate: 1, Burst: 1})
	b := fullBucket(&p, 0)
	sec := int64(time.Second)

	if ok, _ := b.take(&p, 10*sec); !ok {
		t.Fatalf("take at 10s = false, want true on a full bucket")
	}
	if ok, _ := b.take(&p, 5*sec); ok {
		t.Errorf("take at 5s after 10s = true, want false")
	}
	if ok, _ := b.take(&p, 10*sec+sec/2); ok {
		t.Errorf("take at 10.5s = true, want false: only half a token " +
			"has refilled since 10s")
	}
	if ok, _ := b.take(&p, 11*sec); !ok {
		t.Errorf("take at 11s = false, want true")
	}
}

// TestBucketTruncatedShortfall covers the rate.Limiter rule that admits a
// request whose wait for the missing fraction of a token truncates to zero
// nanoseconds. The gaps were found by searching for such float results.
func TestBucketTruncatedShortfall(t *testing.T) {
	tests := []struct {
		rate float64
		gap  time.Duration
	}{
		{1e6, 999 * time.Nanosecond},
		{123456.789, 8100 * time.Nanosecond},
	}
	for _, tc := range tests {
		start := newFakeClock().Now()
		p := newBucketParams(Limit{Rate: tc.rate, Burst: 1})
		b := fullBucket(&p, 0)
		ref := rate.NewLimiter(rate.Limit(tc.rate), 1)

		var first, second Decision
		decide(&first, &b, &p, 0)
		refFirst := ref.AllowN(start, 1)
		decide(&second, &b, &p, int64(tc.gap))
		refSecond := ref.AllowN(start.Add(tc.gap), 1)

		if !first.Allowed || !refFirst {
			t.Errorf("rate %v: first Allowed = %v, rate.Limiter = %v, "+
				"want both true", tc.rate, first.Allowed, refFirst)
		}
		if second.Allowed != refSecond {
			t.Errorf("rate %v after %v: Allowed = %v, rate.Limiter = %v",
				tc.rate, tc.gap, second.Allowed, refSecond)
		}
		if !refSecond {
			t.Errorf("rate %v after %v: rate.Limiter rejected, so this "+
				"case no longer covers a truncated wait", tc.rate, tc.gap)
		}
	}
}
