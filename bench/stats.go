package main

import (
	"math"
	"slices"
	"time"
)

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of durations that
// are already sorted ascending: the smallest value with at least q of the
// sample at or below it. Zero for an empty sample.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Median is the nearest-rank median of an unsorted sample; it sorts a copy.
func Median(sample []time.Duration) time.Duration {
	s := slices.Clone(sample)
	slices.Sort(s)
	return Percentile(s, 0.5)
}

// Sample is a measured run: what it took and how many failed.
type Sample struct {
	Latencies []time.Duration // sorted ascending, successful requests only
	Errors    int             // non-200 answers and transport errors
	Elapsed   time.Duration   // wall time of the measured phase
	Requested int             // the count it was asked to send
	TimedOut  bool            // the deadline stopped it before Requested
}

// P returns the q-quantile latency.
func (s Sample) P(q float64) time.Duration { return Percentile(s.Latencies, q) }

// Throughput is successful requests per second of wall time.
func (s Sample) Throughput() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(len(s.Latencies)) / s.Elapsed.Seconds()
}

// Added is how much later than direct a gateway answered at quantile q,
// never below zero (the two are separate samples; noise can invert them).
func Added(gateway, direct Sample, q float64) time.Duration {
	return max(gateway.P(q)-direct.P(q), 0)
}

// Ratio is a/b, or NaN when b is zero.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
