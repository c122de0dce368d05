package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/server"
)

// limitOptions holds the rate-limit settings of "modelgate serve".
type limitOptions struct {
	enabled        bool
	download, api  ratelimit.Limit
	trustedProxies string
	ipv6Prefix     int
	maxClients     int
	idle           time.Duration
	tokenFile      string
}

// register defines the rate-limit flags on fs.
func (o *limitOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.enabled, "rate-limit", true,
		"rate-limit each client; false turns limiting off")
	fs.Float64Var(&o.download.Rate, "rate-download", 20,
		"download (resolve) requests per second per client")
	fs.IntVar(&o.download.Burst, "burst-download", 200,
		"download requests a client may send at once before the rate applies")
	fs.Float64Var(&o.api.Rate, "rate-api", 20,
		"API and page requests per second per client")
	fs.IntVar(&o.api.Burst, "burst-api", 100,
		"API and page requests a client may send at once before the rate applies")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "",
		"comma-separated CIDRs or addresses of proxies whose "+
			"X-Forwarded-For and Forwarded headers are trusted; empty "+
			"trusts none and keys clients by their TCP peer")
	fs.IntVar(&o.ipv6Prefix, "ipv6-prefix", ratelimit.DefaultIPv6Prefix,
		"prefix length that groups IPv6 clients into one key, in bits")
	fs.IntVar(&o.maxClients, "max-clients", ratelimit.DefaultMaxClients,
		"most clients tracked at once; bounds the limiter's memory")
	fs.DurationVar(&o.idle, "client-idle", ratelimit.DefaultIdleTimeout,
		"time after which an idle client with full buckets is forgotten")
	fs.StringVar(&o.tokenFile, "token-file", "",
		"JSON file mapping SHA-256 hashes of API tokens to rate-limit "+
			"tiers; empty limits every client by address")
}

// newLimiter builds the limiter, or returns nil when limiting is off.
func (o *limitOptions) newLimiter() (*ratelimit.Limiter, error) {
	if !o.enabled {
		return nil, nil
	}
	proxies, err := ratelimit.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	cfg := ratelimit.Config{
		Download:       o.download,
		API:            o.api,
		TrustedProxies: proxies,
		IPv6Prefix:     o.ipv6Prefix,
		MaxClients:     o.maxClients,
		IdleTimeout:    o.idle,
	}
	if o.tokenFile != "" {
		tf, err := ratelimit.LoadTokenFile(o.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		cfg.Tiers, cfg.Tokens = tf.Tiers, tf.Tokens
	}
	lim, err := ratelimit.New(cfg, time.Now)
	if err != nil {
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	return lim, nil
}

// sweepClients forgets idle clients once a minute until ctx is done.
func sweepClients(ctx context.Context, lim *ratelimit.Limiter) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			lim.Sweep()
		}
	}
}

// serverLimiter adapts a ratelimit.Limiter to server.Limiter.
type serverLimiter struct {
	lim *ratelimit.Limiter
}

func (a serverLimiter) Allow(r *http.Request, download bool,
) server.LimitDecision {
	b := ratelimit.API
	if download {
		b = ratelimit.Download
	}
	d := a.lim.Allow(r, b)
	return server.LimitDecision{
		Client:     d.Key.String(),
		Allowed:    d.Allowed,
		RetryAfter: d.RetryAfter,
		SetHeaders: d.SetHeaders,
	}
}

func (a serverLimiter) ClientKey(r *http.Request) string {
	return a.lim.ClientKey(r).String()
}
