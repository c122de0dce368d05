package ratelimit

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// floodAddr returns the i-th address of a flood: even numbers are IPv4
// addresses in 100.64.0.0/10, odd ones are distinct IPv6 /64 prefixes.
func floodAddr(i int) netip.AddrPort {
	if i%2 == 0 {
		n := uint32(100<<24|64<<16) + uint32(i/2)
		a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16),
			byte(n >> 8), byte(n)})
		return netip.AddrPortFrom(a, 443)
	}
	var b [16]byte
	copy(b[:], []byte{0x20, 0x01, 0x0d, 0xb8})
	n := uint32(i / 2)
	b[4], b[5], b[6], b[7] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	b[15] = 1
	return netip.AddrPortFrom(netip.AddrFrom16(b), 443)
}

// TestFloodKeepsLimitedClientLimited drains one client's budget and then
// sends a request from each of 1,000,000 new addresses. The drained client
// is probed throughout and must get exactly what rate.Limiter would give a
// client that was never forgotten.
func TestFloodKeepsLimitedClientLimited(t *testing.T) {
	const (
		flood      = 1_000_000
		maxClients = 50_000
		// Between probes each shard receives more new addresses than it
		// holds, so the victim becomes the least recently seen client.
		probeEvery = 100_000
	)
	tests := []struct {
		name string
		step time.Duration // clock advance per flood request
	}{
		// Nothing becomes evictable: new addresses share the overflow.
		{"frozen clock", 0},
		// Flood clients refill within 1s (100,000 requests) and are
		// evicted, while the victim refills 1 token per 100,000 requests.
		{"advancing clock", 10 * time.Microsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			limit := Limit{Rate: 1, Burst: 50}
			cfg := Config{Download: limit, API: limit, MaxClients: maxClients}
			l, clock := newTestLimiter(t, cfg)
			ref := rate.NewLimiter(rate.Limit(limit.Rate), limit.Burst)
			victim := newRequest(t, "192.0.2.1:5000")
			probe := func(when string) {
				t.Helper()
				got := l.Allow(victim, Download).Allowed
				if want := ref.AllowN(clock.Now(), 1); got != want {
					t.Fatalf("%s: victim Allowed = %v, want %v as a "+
						"never-forgotten rate.Limiter", when, got, want)
				}
			}

			for range limit.Burst + 5 {
				probe("draining")
			}

			r := newRequest(t, "")
			overflowed, victimAllowed := 0, 0
			for i := range flood {
				clock.Advance(tc.step)
				r.RemoteAddr = floodAddr(i).String()
				if l.Allow(r, Download).Overflow {
					overflowed++
				}
				if n := l.Tracked(); n > maxClients {
					t.Fatalf("after %d flood requests Tracked() = %d, "+
						"want at most %d", i+1, n, maxClients)
				}
				if (i+1)%probeEvery == 0 {
					if ref.TokensAt(clock.Now()) >= 1 {
						victimAllowed++
					}
					probe("during flood")
				}
			}

			stats := l.Stats()
			if tc.step == 0 {
				// The victim takes one of the maxClients slots.
				wantOverflow := flood - (maxClients - 1)
				if overflowed != wantOverflow || stats.Evicted != 0 {
					t.Errorf("frozen clock: overflowed %d, evicted %d; want "+
						"%d and 0", overflowed, stats.Evicted, wantOverflow)
				}
				if victimAllowed != 0 {
					t.Errorf("frozen clock: the victim refilled %d times, "+
						"want 0", victimAllowed)
				}
			} else {
				if stats.Evicted == 0 || overflowed == 0 {
					t.Errorf("advancing clock: evicted %d, overflowed %d; "+
						"want both > 0 so that both paths ran",
						stats.Evicted, overflowed)
				}
				if victimAllowed == 0 {
					t.Errorf("advancing clock: the victim never refilled, " +
						"so the probes did not test allowed requests")
				}
			}
			if stats.Overflowed != uint64(overflowed) {
				t.Errorf("Stats().Overflowed = %d, want %d", stats.Overflowed,
					overflowed)
			}
		})
	}
}

// TestEvictionOrder fills a one-shard store of four clients and checks
// which client each new address replaces.
func TestEvictionOrder(t *testing.T) {
	cfg := testConfig() // Download 1/s burst 3, API 2/s burst 5
	cfg.MaxClients = 4
	l, clock := newTestLimiter(t, cfg)
	send := func(remote string, n int) Decision {
		t.Helper()
		var d Decision
		for range n {
			d = l.Allow(newRequest(t, remote), Download)
		}
		return d
	}

	send("192.0.2.1:1", 3) // drained: limited for 3s
	send("192.0.2.2:1", 1)
	send("192.0.2.3:1", 3) // drained
	send("192.0.2.4:1", 1)
	clock.Advance(1500 * time.Millisecond) // .2 and .4 are full again

	if d := send("192.0.2.5:1", 1); d.Overflow {
		t.Fatalf("new client overflowed, want it to replace 192.0.2.2")
	}
	checkTracked(t, l, "192.0.2.1", "192.0.2.3", "192.0.2.4", "192.0.2.5")

	if d := send("192.0.2.6:1", 1); d.Overflow {
		t.Fatalf("new client overflowed, want it to replace 192.0.2.4")
	}
	checkTracked(t, l, "192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.6")

	// .5 and .6 each took a token just now, and .1 and .3 are limited.
	d := send("192.0.2.7:1", 1)
	if !d.Overflow {
		t.Errorf("new client got its own bucket, want the overflow " +
			"because no tracked client is full")
	}
	checkTracked(t, l, "192.0.2.1", "192.0.2.3", "192.0.2.5", "192.0.2.6")

	// 192.0.2.1 has refilled 1.5 tokens since it was drained. A new
	// bucket would leave 2 after this request.
	if d := send("192.0.2.1:1", 1); !d.Allowed || d.Remaining != 0 {
		t.Errorf("drained client after 1.5s: {Allowed %v, Remaining %d}, "+
			"want {true, 0}", d.Allowed, d.Remaining)
	}
}

// checkTracked compares the tracked addresses with want.
func checkTracked(tb testing.TB, l *Limiter, want ...string) {
	tb.Helper()
	if got := l.Tracked(); got != len(want) {
		tb.Errorf("Tracked() = %d, want %d", got, len(want))
	}
	for _, s := range want {
		k := addrKey(netip.MustParseAddr(s), DefaultIPv6Prefix)
		key := k.storeKey()
		sh := l.shardFor(&key)
		sh.mu.Lock()
		_, ok := sh.index[key]
		sh.mu.Unlock()
		if !ok {
			tb.Errorf("client %s is not tracked, want it tracked", s)
		}
	}
}

// TestOverflowSharesOneBucket checks that new clients share one budget
// while the store is full of limited clients.
func TestOverflowSharesOneBucket(t *testing.T) {
	cfg := testConfig() // Download burst 3
	cfg.MaxClients = 2
	l, _ := newTestLimiter(t, cfg)
	countAllowed(l, newRequest(t, "192.0.2.1:1"), Download, 1)
	countAllowed(l, newRequest(t, "192.0.2.2:1"), Download, 1)

	allowed := 0
	for i := range 10 {
		r := newRequest(t, floodAddr(2*i).String())
		d := l.Allow(r, Download)
		if !d.Overflow {
			t.Fatalf("request %d: Overflow = false, want true", i)
		}
		if d.Key.String() != floodAddr(2*i).Addr().String() {
			t.Errorf("request %d: Key = %v, want the client address %v",
				i, d.Key, floodAddr(2*i).Addr())
		}
		if d.Allowed {
			allowed++
		}
	}
	if allowed != 3 {
		t.Errorf("allowed %d of 10 overflow requests, want 3 (one burst)",
			allowed)
	}
	if got := l.Tracked(); got != 2 {
		t.Errorf("Tracked() = %d, want 2", got)
	}
}

// TestSweepKeepsLimitedClients checks that Sweep drops idle clients only
// once their buckets are full.
func TestSweepKeepsLimitedClients(t *testing.T) {
	cfg := Config{
		Download:    Limit{Rate: 1, Burst: 100}, // 100s to refill
		API:         Limit{Rate: 1, Burst: 1},
		IdleTimeout: time.Minute,
	}
	l, clock := newTestLimiter(t, cfg)
	countAllowed(l, newRequest(t, "192.0.2.1:1"), Download, 100) // drained
	countAllowed(l, newRequest(t, "192.0.2.2:1"), Download, 1)

	clock.Advance(30 * time.Second)
	l.Sweep()
	if got := l.Tracked(); got != 2 {
		t.Errorf("Tracked() after 30s = %d, want 2: nothing is idle yet", got)
	}

	clock.Advance(31 * time.Second)
	l.Sweep()
	checkTracked(t, l, "192.0.2.1")
	if got := l.Stats().Expired; got != 1 {
		t.Errorf("Stats().Expired = %d, want 1", got)
	}

	clock.Advance(40 * time.Second) // 101s after draining
	l.Sweep()
	if got := l.Tracked(); got != 0 {
		t.Errorf("Tracked() after refilling = %d, want 0", got)
	}
}

// TestInsertExpiresIdleClients checks that inserting a client drops idle
// clients with full buckets without a call to Sweep.
func TestInsertExpiresIdleClients(t *testing.T) {
	cfg := testConfig()
	cfg.IdleTimeout = time.Minute
	cfg.MaxClients = 10 // one shard, so all three clients share it
	l, clock := newTestLimiter(t, cfg)
	countAllowed(l, newRequest(t, "192.0.2.1:1"), Download, 1)
	countAllowed(l, newRequest(t, "192.0.2.2:1"), Download, 1)

	clock.Advance(2 * time.Minute)
	countAllowed(l, newRequest(t, "192.0.2.3:1"), Download, 1)
	checkTracked(t, l, "192.0.2.3")
	if got := l.Stats().Expired; got != 2 {
		t.Errorf("Stats().Expired = %d, want 2", got)
	}
}

func TestShardCapacities(t *testing.T) {
	tests := []struct {
		maxClients int
		wantShards int
	}{
		{1, 1},
		{2047, 1},
		{2048, 2},
		{DefaultMaxClients, 32},
		{MaxClientsLimit, 32},
	}
	for _, tc := range tests {
		limit := Limit{Rate: 1, Burst: 1}
		cfg := Config{Download: limit, API: limit, MaxClients: tc.maxClients}
		l, _ := newTestLimiter(t, cfg)
		total := 0
		for _, s := range l.shards {
			total += int(s.capacity)
		}
		if len(l.shards) != tc.wantShards || total != tc.maxClients {
			t.Errorf("MaxClients %d: %d shards holding %d, want %d holding "+
				"%d", tc.maxClients, len(l.shards), total, tc.wantShards,
				tc.maxClients)
		}
	}
}

// TestShardBalance checks that the addresses of a flood, which differ only
// in a few bytes, spread evenly over the shards.
func TestShardBalance(t *testing.T) {
	limit := Limit{Rate: 1, Burst: 1}
	l, _ := newTestLimiter(t, Config{Download: limit, API: limit})
	const n = 64_000
	r := newRequest(t, "")
	for i := range n {
		r.RemoteAddr = floodAddr(i).String()
		l.Allow(r, Download)
	}

	mean := n / len(l.shards)
	for i, s := range l.shards {
		got := int(s.count.Load())
		if got < mean*3/4 || got > mean*5/4 {
			t.Errorf("shard %d holds %d of %d clients, want %d ± 25%%",
				i, got, n, mean)
		}
	}
}

// TestConcurrentAllow runs Allow, Sweep and Tracked from several
// goroutines, for use with -race. With the clock frozen, one shared client
// must get exactly its burst, and the store must stay within MaxClients.
func TestConcurrentAllow(t *testing.T) {
	const (
		workers    = 8
		perWorker  = 5000
		maxClients = 3000
	)
	cfg := testConfig() // Download burst 3
	cfg.MaxClients = maxClients
	l, _ := newTestLimiter(t, cfg)

	var wg sync.WaitGroup
	allowed := make([]int, workers)
	tooMany := make([]int, workers)
	for w := range workers {
		wg.Go(func() {
			shared := newRequest(t, "192.0.2.1:1")
			other := newRequest(t, "")
			for i := range perWorker {
				if l.Allow(shared, Download).Allowed {
					allowed[w]++
				}
				other.RemoteAddr = floodAddr(w*perWorker + i).String()
				l.Allow(other, API)
				if i%500 == 0 {
					l.Sweep()
				}
				if l.Tracked() > maxClients {
					tooMany[w]++
				}
			}
		})
	}
	wg.Wait()

	total, over := 0, 0
	for w := range workers {
		total += allowed[w]
		over += tooMany[w]
	}
	if total != 3 {
		t.Errorf("shared client allowed %d times, want its burst of 3", total)
	}
	if over != 0 {
		t.Errorf("Tracked() exceeded %d in %d checks", maxClients, over)
	}
}
