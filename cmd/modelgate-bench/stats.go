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
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// latencySummary holds the percentiles of a set of request latencies.
type latencySummary struct {
	P50 time.Duration
	P99 time.Duration
	Max time.Duration
}

// summarizeLatencies sorts latencies in place and returns their
// percentiles.
func summarizeLatencies(latencies []time.Duration) latencySummary {
	slices.Sort(latencies)
	if len(latencies) == 0 {
		return latencySummary{}
	}
	return latencySummary{
		P50: percentile(latencies, 50),
		P99: percentile(latencies, 99),
		Max: latencies[len(latencies)-1],
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
