package ratelimit

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Limiter decides requests with one pair of token buckets per client. It is
// safe for concurrent use. Create it with [New], because the zero Limiter
// is not usable.
type Limiter struct {
	now      func() time.Time
	start    time.Time
	anon     [numBudgets]bucketParams
	trusted  []netip.Prefix
	ipv6Bits int
	tokens   map[[32]byte]*lockedBuckets // read-only after New
	seed     [2]uint64                   // keys shardFor
	shards   []*shard
	overflow *lockedBuckets
	stats    counters
}

// lockedBuckets is a pair of buckets outside the store: one per known token,
// and the overflow pair that untracked new clients share.
type lockedBuckets struct {
	mu      sync.Mutex
	buckets [numBudgets]bucket
	params  *[numBudgets]bucketParams
	key     Key
}

func newLockedBuckets(p *[numBudgets]bucketParams, key Key) *lockedBuckets {
	lb := &lockedBuckets{params: p, key: key}
	for b := range lb.buckets {
		lb.buckets[b] = fullBucket(&p[b], 0)
	}
	return lb
}

func (lb *lockedBuckets) allow(d *Decision, b Budget, t int64) {
	lb.mu.Lock()
	decide(d, &lb.buckets[b], &lb.params[b], t)
	lb.mu.Unlock()
}

// Stats are counts for monitoring the store.
type Stats struct {
	Tracked    int    // client addresses in the store now
	Evicted    uint64 // clients removed to make room, all with full buckets
	Expired    uint64 // clients removed after IdleTimeout, all with full buckets
	Overflowed uint64 // requests decided by the shared overflow bucket
}

// New returns a Limiter for cfg, or the error of [Config.Validate]. The
// clock now is read once per request, and nil means time.Now. New allocates
// the buckets of every configured token.
func New(cfg Config, now func() time.Time) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ratelimit config: %w", err)
	}
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}

	l := &Limiter{
		now:      now,
		start:    now(),
		trusted:  normalizeProxies(cfg.TrustedProxies),
		ipv6Bits: cfg.IPv6Prefix,
		seed:     [2]uint64{rand.Uint64(), rand.Uint64()},
	}
	l.anon = [numBudgets]bucketParams{
		Download: newBucketParams(cfg.Download),
		API:      newBucketParams(cfg.API),
	}
	l.overflow = newLockedBuckets(&l.anon, Key{})
	l.tokens = newTokenBuckets(cfg.Tiers, cfg.Tokens)
	l.shards = newShards(cfg, &l.anon, &l.stats)
	return l, nil
}

func newShards(cfg Config, p *[numBudgets]bucketParams,
	stats *counters) []*shard {
	n := shardCount(cfg.MaxClients)
	shards := make([]*shard, n)
	for i := range shards {
		// Spread the remainder so that the capacities sum to MaxClients.
		capacity := cfg.MaxClients / n
		if i < cfg.MaxClients%n {
			capacity++
		}
		shards[i] = newShard(int32(capacity), p,
			cfg.IdleTimeout.Nanoseconds(), stats)
	}
	return shards
}

func newTokenBuckets(tiers map[string]Tier,
	tokens map[[32]byte]string) map[[32]byte]*lockedBuckets {
	params := make(map[string]*[numBudgets]bucketParams, len(tiers))
	for name, tier := range tiers {
		params[name] = &[numBudgets]bucketParams{
			Download: newBucketParams(tier.Download),
			API:      newBucketParams(tier.API),
		}
	}
	out := make(map[[32]byte]*lockedBuckets, len(tokens))
	for sum, tier := range tokens {
		out[sum] = newLockedBuckets(params[tier], tokenKey(&sum, tier))
	}
	return out
}

// Allow takes one token from the client's bucket for budget b and returns
// the decision. It does no I/O and waits only for short internal locks. It
// panics if b is not Download or API.
func (l *Limiter) Allow(r *http.Request, b Budget) Decision {
	if b >= numBudgets {
		panic(fmt.Sprintf("ratelimit: invalid budget %d", b))
	}
	t := l.elapsed()
	d := Decision{Budget: b}

	if lb := l.tokenBuckets(r.Header); lb != nil {
		d.Key = lb.key
		lb.allow(&d, b, t)
		return d
	}

	d.Key = l.addressKey(r)
	sk := d.Key.storeKey()
	if !l.shardFor(&sk).allow(&d, sk, b, t) {
		d.Overflow = true
		l.overflow.allow(&d, b, t)
		l.stats.overflowed.Add(1)
	}
	return d
}

// ClientKey returns the key that Allow would count r against, without
// taking a token. See the package documentation for how it is chosen.
//
// The peer is r.RemoteAddr, "host:port" or a bare address. If it cannot be
// parsed, the key is the zero Key, shared by all such requests. Forwarding
// headers are read only from a trusted peer. If X-Forwarded-For and
// Forwarded are both present and name different clients, the key is the
// peer, because one of them may be a header that the proxy passed through
// from the client unchanged.
func (l *Limiter) ClientKey(r *http.Request) Key {
	if lb := l.tokenBuckets(r.Header); lb != nil {
		return lb.key
	}
	return l.addressKey(r)
}

// Tracked returns the number of client addresses in the store, at most
// MaxClients. Token clients are not counted.
func (l *Limiter) Tracked() int {
	n := 0
	for _, s := range l.shards {
		n += int(s.count.Load())
	}
	return n
}

// Stats returns the store's counters.
func (l *Limiter) Stats() Stats {
	return Stats{
		Tracked:    l.Tracked(),
		Evicted:    l.stats.evicted.Load(),
		Expired:    l.stats.expired.Load(),
		Overflowed: l.stats.overflowed.Load(),
	}
}

// Sweep removes every client that has been idle for IdleTimeout and whose
// buckets are full. Allow also does this lazily for a few clients before
// each insert, so calling Sweep periodically (say, every minute) only
// returns memory sooner. Sweep holds one shard's lock at a time.
func (l *Limiter) Sweep() {
	t := l.elapsed()
	for _, s := range l.shards {
		s.mu.Lock()
		s.expire(t, -1)
		s.mu.Unlock()
	}
}

func (l *Limiter) elapsed() int64 {
	return l.now().Sub(l.start).Nanoseconds()
}
