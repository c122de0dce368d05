package ratelimit

import (
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchConfig has limits high enough that the benchmarked client is
// allowed, unless a case lowers them.
func benchConfig() Config {
	high := Limit{Rate: MaxRate, Burst: MaxBurst}
	return Config{
		Download:       high,
		API:            high,
		TrustedProxies: mustPrefixes(&testing.B{}, "10.0.0.0/8"),
		Tiers: map[string]Tier{
			"partner": {Name: "partner", Download: high, API: high},
		},
		Tokens: map[[32]byte]string{HashToken(knownToken): "partner"},
	}
}

// BenchmarkAllow measures one decision for a client that is already
// tracked. With the fake clock, which advances 1ms per call, every request
// is allowed and the figure excludes the cost of reading the clock. With
// time.Now the rates are raised beyond MaxRate, so that the client is never
// limited, and the figure includes the clock.
func BenchmarkAllow(b *testing.B) {
	tests := []struct {
		name   string
		remote string
		fields []string
	}{
		{"address", "192.0.2.1:443", nil},
		{"IPv6 address", "[2001:db8:1:2::3]:443", nil},
		{"behind proxy", "10.0.0.1:443",
			[]string{"X-Forwarded-For", "198.51.100.7, 10.0.0.2"}},
		{"behind proxy Forwarded", "10.0.0.1:443",
			[]string{"Forwarded", `for="[2001:db8::7]:1234";proto=https`}},
		{"known token", "192.0.2.1:443",
			[]string{"Authorization", "Bearer " + knownToken}},
		{"unknown token", "192.0.2.1:443",
			[]string{"Authorization", "Bearer " + unknownToken}},
	}
	for _, clock := range []string{"fake clock", "time.Now"} {
		for _, tc := range tests {
			b.Run(clock+"/"+tc.name, func(b *testing.B) {
				l := newBenchLimiter(b, clock == "time.Now")
				r := newRequest(b, tc.remote, tc.fields...)
				if d := l.Allow(r, Download); !d.Allowed {
					b.Fatalf("first request rejected")
				}

				b.ReportAllocs()
				for b.Loop() {
					l.Allow(r, Download)
				}
				if d := l.Allow(r, Download); !d.Allowed {
					b.Fatalf("last request rejected, so the loop did not " +
						"measure allowed requests only")
				}
			})
		}
	}
}

// BenchmarkAllowRejected measures one decision for a tracked client that
// is being limited, which also computes Retry-After.
func BenchmarkAllowRejected(b *testing.B) {
	cfg := benchConfig()
	cfg.Download = Limit{Rate: MinRate, Burst: 1}
	l, _ := newTestLimiter(b, cfg)
	r := newRequest(b, "192.0.2.1:443")
	l.Allow(r, Download)

	b.ReportAllocs()
	for b.Loop() {
		l.Allow(r, Download)
	}
	if d := l.Allow(r, Download); d.Allowed {
		b.Fatalf("last request allowed, want rejected")
	}
}

// newBenchLimiter returns a Limiter whose clients are never limited in a
// benchmark loop.
func newBenchLimiter(b *testing.B, realClock bool) *Limiter {
	b.Helper()
	if !realClock {
		clock := newFakeClock()
		l, err := New(benchConfig(), func() time.Time {
			clock.Advance(time.Millisecond)
			return clock.Now()
		})
		if err != nil {
			b.Fatalf("New() error = %v", err)
		}
		return l
	}

	l, err := New(benchConfig(), nil)
	if err != nil {
		b.Fatalf("New() error = %v", err)
	}
	// Raise the rates past what Validate accepts: at MaxRate a loop of
	// 200ns requests would drain the bucket within a second.
	for _, p := range []*[numBudgets]bucketParams{&l.anon,
		l.tokens[HashToken(knownToken)].params} {
		for i := range p {
			p[i].rate = 1e12
		}
	}
	return l
}

// BenchmarkAllowParallel measures decisions from all CPUs, each goroutine
// with its own tracked client.
func BenchmarkAllowParallel(b *testing.B) {
	l := newBenchLimiter(b, true)
	var next int
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		next++ // RunParallel starts the goroutines one at a time
		r := newRequest(b, floodAddr(next).String())
		for pb.Next() {
			l.Allow(r, Download)
		}
	})
}

// BenchmarkSetHeaders measures the header fields of a decision from
// Allow: the first request of a client, and a rejected one.
func BenchmarkSetHeaders(b *testing.B) {
	tests := []struct {
		name     string
		requests int // the decision of the last one is benchmarked
	}{
		{"allowed", 1},
		{"rejected", testConfig().Download.Burst + 1},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			l, _ := newTestLimiter(b, testConfig())
			r := newRequest(b, "192.0.2.1:1")
			var d Decision
			for range tc.requests {
				d = l.Allow(r, Download)
			}
			h := http.Header{}
			b.ReportAllocs()
			for b.Loop() {
				d.SetHeaders(h)
			}
		})
	}
}

// BenchmarkMemoryPerClient reports the heap that each tracked client
// costs: the heap after inserting n clients minus the heap before creating
// the Limiter, both after a garbage collection, divided by n.
func BenchmarkMemoryPerClient(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var perClient float64
			for b.Loop() {
				perClient = measureClientMemory(b, n)
			}
			b.ReportMetric(perClient, "bytes/client")
		})
	}
}

func measureClientMemory(b *testing.B, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	// Leave room in every shard, so that all n clients are tracked.
	limit := Limit{Rate: 1, Burst: 10}
	cfg := Config{Download: limit, API: limit, MaxClients: n * 5 / 4}
	l, _ := newTestLimiter(b, cfg)
	r := newRequest(b, "")
	for i := range n {
		r.RemoteAddr = floodAddr(i).String()
		l.Allow(r, Download)
	}
	if got := l.Tracked(); got != n {
		b.Fatalf("Tracked() = %d after %d clients, want %d", got, n, n)
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(l)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkFlood sends one request from each of 1,000,000 new addresses to
// a Limiter with the default MaxClients and reports the peak heap, sampled
// every 10,000 requests. The clock advances 10µs per request, so clients
// refill after 1s and are evicted while new ones arrive.
func BenchmarkFlood(b *testing.B) {
	const (
		flood       = 1_000_000
		sampleEvery = 10_000
	)
	var peak, live, base uint64
	var perRequest time.Duration
	for b.Loop() {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		base = m.HeapAlloc

		limit := Limit{Rate: 1, Burst: 10}
		l, clock := newTestLimiter(b, Config{Download: limit, API: limit})
		r := newRequest(b, "")
		peak = 0
		start := time.Now()
		for i := range flood {
			clock.Advance(10 * time.Microsecond)
			r.RemoteAddr = floodAddr(i).String()
			l.Allow(r, Download)
			if i%sampleEvery == 0 {
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
		perRequest = time.Since(start) / flood

		runtime.GC()
		runtime.ReadMemStats(&m)
		live = m.HeapAlloc
		if l.Tracked() > DefaultMaxClients {
			b.Fatalf("Tracked() = %d, want at most %d", l.Tracked(),
				DefaultMaxClients)
		}
		runtime.KeepAlive(l)
	}
	b.ReportMetric(float64(peak-base), "peak-heap-bytes")
	b.ReportMetric(float64(live-base), "live-heap-bytes")
	b.ReportMetric(float64(perRequest.Nanoseconds()), "ns/request")
}
