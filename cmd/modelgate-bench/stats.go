package main

import (
	"math"
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest value that at least p percent of the
// values do not exceed. It returns 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The small subtraction keeps a rank such as 99.9% of 1000, which
	// floating point computes as 999.0000000000001, from rounding up.
	rank := int(math.Ceil(p*float64(len(sorted))/100 - 1e-9))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencySummary holds the percentiles of a set of request latencies.
type latencySummary struct {
	P50  time.Duration
	P90  time.Duration
	P99  time.Duration
	P995 time.Duration
	P999 time.Duration
	Max  time.Duration
}

// summarizeLatencies sorts latencies in place and returns their
// percentiles.
func summarizeLatencies(latencies []time.Duration) latencySummary {
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return latencySummary{}
	}
	return latencySummary{
		P50:  percentile(latencies, 50),
		P90:  percentile(latencies, 90),
		P99:  percentile(latencies, 99),
		P995: percentile(latencies, 99.5),
		P999: percentile(latencies, 99.9),
		Max:  latencies[len(latencies)-1],
	}
}

// mean returns the arithmetic mean of values, or 0 when there are none.
func mean(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	var sum float64
	for _, v := range values {
		sum += v
	}
	return sum / float64(len(values))
}
