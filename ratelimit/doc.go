// Package ratelimit decides whether an HTTP request may proceed, with one
// token bucket per client and budget.
//
// # Budgets and tiers
//
// Every client has two independent budgets: [Download] for resolve requests
// and [API] for API and page requests. Each budget is a token bucket with a
// rate in tokens per second and a burst, with the semantics of
// golang.org/x/time/rate (v0.16.0): a bucket starts full, refills at the rate
// up to the burst, and a rejected request consumes nothing. The package keeps
// its own compact copy of that arithmetic so that a tracked client costs
// about 100 bytes of heap (BenchmarkMemoryPerClient, amd64). A test runs
// both side by side and checks that they agree.
//
// A request whose Authorization header carries a bearer token whose SHA-256
// is listed in [Config.Tokens] is limited per token, with the rate and burst
// of the token's [Tier]. Any other request, including one with an unknown
// token, is limited by its client address. The package never stores or logs
// a bearer token: it hashes the token and compares only the hash.
//
// # Client address
//
// The client address is the TCP peer of the request. Only when the peer is in
// [Config.TrustedProxies] are X-Forwarded-For and Forwarded (RFC 7239) read.
// The key is then the rightmost address that is not a trusted proxy, so a
// client cannot choose its key by adding addresses to the left. X-Real-IP and
// True-Client-IP are ignored. IPv6 addresses are grouped by
// [Config.IPv6Prefix] (/64 by default), and an IPv4-mapped IPv6 address counts
// as the IPv4 address. See [Limiter.ClientKey] for the malformed cases.
//
// # Bounded memory
//
// A [Limiter] tracks at most [Config.MaxClients] client addresses. It removes
// a client only when both of its buckets are full. A full bucket is exactly
// what a new client gets, so removal never hands out extra tokens. A
// client that is being limited therefore stays tracked and limited, however
// many other addresses arrive.
//
// The store is split into up to 32 shards by a keyed hash of the address,
// each holding its share of MaxClients, so a shard can fill up slightly
// before the whole store does. When a new address finds its shard full, it
// replaces the least recently seen client with full buckets among the 32
// least recently seen clients of that shard. If there is none, the new
// address is limited by a shared overflow bucket with the anonymous rate and
// burst: new clients together get one client's budget until room appears. A
// client that later gets a slot starts with a full bucket, so all overflow
// clients together get at most that one shared budget on top of their own.
//
// Configured tokens have buckets of their own, allocated by [New], which do
// not count against MaxClients.
//
// # What the caller does
//
// The server decides which routes are limited: OPTIONS requests, /healthz,
// /readyz and /metrics are exempt and never reach [Limiter.Allow]. On a
// limited route it calls Allow, writes the headers with [Decision.SetHeaders]
// and responds with 429 Too Many Requests when [Decision.Allowed] is false.
package ratelimit
