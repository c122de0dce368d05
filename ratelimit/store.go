package ratelimit

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
)

const (
	chunkEntries    = 256 // entries per slab chunk
	evictScan       = 32  // least recently seen entries examined to evict
	expireOnInsert  = 2   // idle entries examined before each insert
	maxShards       = 32
	minShardEntries = 1024
	noEntry         = int32(-1)
)

// entry is one tracked client address. It contains no pointers, so the
// garbage collector does not scan the slab.
type entry struct {
	key        [16]byte
	prev, next int32 // LRU neighbours, or the next free slot in next
	seen       int64 // last request, in nanoseconds since the start
	buckets    [numBudgets]bucket
}

// shard is one part of the client store: a map from address to a slot in a
// slab of entries, and a list of the entries from most to least recently
// seen. All fields except count are guarded by mu.
type shard struct {
	mu       sync.Mutex
	index    map[[16]byte]int32
	chunks   []*[chunkEntries]entry
	used     int32 // slots handed out so far, free ones included
	free     int32 // first free slot, linked through entry.next
	head     int32 // most recently seen
	tail     int32 // least recently seen
	capacity int32
	count    atomic.Int32 // written under mu, read by Tracked without it
	params   *[numBudgets]bucketParams
	idle     int64 // nanoseconds
	stats    *counters
	_        [64]byte // keeps neighbouring shards off one cache line
}

// counters are the totals that Stats reports.
type counters struct {
	evicted    atomic.Uint64
	expired    atomic.Uint64
	overflowed atomic.Uint64
}

func newShard(capacity int32, params *[numBudgets]bucketParams,
	idle int64, stats *counters) *shard {
	return &shard{
		index:    make(map[[16]byte]int32),
		free:     noEntry,
		head:     noEntry,
		tail:     noEntry,
		capacity: capacity,
		params:   params,
		idle:     idle,
		stats:    stats,
	}
}

// shardCount returns a power of two, at most maxShards, that leaves at
// least minShardEntries clients per shard when maxClients allows it.
func shardCount(maxClients int) int {
	n := 1
	for n < maxShards && maxClients/(2*n) >= minShardEntries {
		n *= 2
	}
	return n
}

func (s *shard) at(i int32) *entry {
	return &s.chunks[i/chunkEntries][i%chunkEntries]
}

// allow decides a request of the client with the given key at t into d.
// It reports false, deciding nothing, when the client is not tracked and
// the shard has no room for it.
func (s *shard) allow(d *Decision, key [16]byte, b Budget, t int64) bool {
	s.mu.Lock()
	i, ok := s.index[key]
	if !ok {
		if i, ok = s.insert(key, t); !ok {
			s.mu.Unlock()
			return false
		}
	}
	e := s.at(i)
	if s.head != i {
		s.unlink(i, e)
		s.pushFront(i, e)
	}
	e.seen = max(e.seen, t)
	decide(d, &e.buckets[b], &s.params[b], t)
	s.mu.Unlock()
	return true
}

// insert adds a client with full buckets and returns its slot. When the
// shard is full it evicts a client whose buckets are full, and reports
// false if it finds none.
func (s *shard) insert(key [16]byte, t int64) (int32, bool) {
	s.expire(t, expireOnInsert)
	if s.count.Load() >= s.capacity && !s.evict(t) {
		return noEntry, false
	}

	i := s.alloc()
	e := s.at(i)
	*e = entry{key: key, seen: t}
	for b := range e.buckets {
		e.buckets[b] = fullBucket(&s.params[b], t)
	}
	s.pushFront(i, e)
	s.index[key] = i
	s.count.Add(1)
	return i, true
}

// expire removes clients idle for the idle timeout whose buckets are full,
// examining at most limit idle clients from the least recently seen end,
// or all of them when limit is negative.
func (s *shard) expire(t int64, limit int) {
	i := s.tail
	for n := 0; i != noEntry && (limit < 0 || n < limit); n++ {
		e := s.at(i)
		if t-e.seen < s.idle {
			return
		}
		prev := e.prev
		if s.full(e, t) {
			s.remove(i, e)
			s.stats.expired.Add(1)
		}
		i = prev
	}
}

// evict removes the least recently seen client whose buckets are full,
// among the evictScan least recently seen, and reports whether it found
// one. A client with a bucket that is not full is never removed, because a
// new entry would give it a full bucket.
func (s *shard) evict(t int64) bool {
	i := s.tail
	for n := 0; i != noEntry && n < evictScan; n++ {
		e := s.at(i)
		if s.full(e, t) {
			s.remove(i, e)
			s.stats.evicted.Add(1)
			return true
		}
		i = e.prev
	}
	return false
}

func (s *shard) full(e *entry, t int64) bool {
	for b := range e.buckets {
		if !e.buckets[b].full(&s.params[b], t) {
			return false
		}
	}
	return true
}

// alloc returns a free slot, growing the slab by one chunk when needed.
func (s *shard) alloc() int32 {
	if i := s.free; i != noEntry {
		s.free = s.at(i).next
		return i
	}
	if s.used%chunkEntries == 0 {
		s.chunks = append(s.chunks, new([chunkEntries]entry))
	}
	i := s.used
	s.used++
	return i
}

func (s *shard) remove(i int32, e *entry) {
	s.unlink(i, e)
	delete(s.index, e.key)
	e.next = s.free
	s.free = i
	s.count.Add(-1)
}

func (s *shard) pushFront(i int32, e *entry) {
	e.prev = noEntry
	e.next = s.head
	if s.head != noEntry {
		s.at(s.head).prev = i
	}
	s.head = i
	if s.tail == noEntry {
		s.tail = i
	}
}

func (s *shard) unlink(i int32, e *entry) {
	if e.prev != noEntry {
		s.at(e.prev).next = e.next
	} else if s.head == i {
		s.head = e.next
	}
	if e.next != noEntry {
		s.at(e.next).prev = e.prev
	} else if s.tail == i {
		s.tail = e.prev
	}
	e.prev, e.next = noEntry, noEntry
}

// shardFor picks the shard of a store key. The hash is keyed with a random
// seed per Limiter, so clients cannot aim many keys at one shard without
// observing the shards. It is cheaper than hash/maphash, and the shard's
// map hashes the key again with its own seed.
func (l *Limiter) shardFor(sk *[16]byte) *shard {
	lo := binary.LittleEndian.Uint64(sk[:8])
	hi := binary.LittleEndian.Uint64(sk[8:])
	h := mix64(mix64(lo^l.seed[0]) ^ hi ^ l.seed[1])
	return l.shards[h&uint64(len(l.shards)-1)]
}

// mix64 is the finalizer of SplitMix64: every output bit depends on every
// input bit.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
