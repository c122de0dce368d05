package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/modelgate/modelgate/ratelimit"
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

	// cfg is the limiter's configuration, set by validate.
	cfg ratelimit.Config
}

// register defines the rate-limit flags on fs.
func (o *limitOptions) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.enabled, "rate-limit", true,
		"rate-limit each client; false turns limiting off")
	fs.Float64Var(&o.download.Rate, "rate-download", 20,
		"download (resolve and raw) requests per second per client")
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

// validate checks the rate-limit flags and reads the token file, so that
// every invalid value stops the gateway at start-up. Errors name the flag.
// With --rate-limit=false it checks nothing, because no other flag is used.
func (o *limitOptions) validate() error {
	if !o.enabled {
		return nil
	}
	proxies, err := ratelimit.ParseTrustedProxies(o.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	o.cfg = ratelimit.Config{
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
			return fmt.Errorf("--token-file: %w", err)
		}
		o.cfg.Tiers, o.cfg.Tokens = tf.Tiers, tf.Tokens
	}
	if err := o.cfg.Validate(); err != nil {
		return flagError(err)
	}
	return nil
}

// flagError rewrites an error of ratelimit.Config.Validate to name the
// flag that sets the invalid field.
func flagError(err error) error {
	var ce *ratelimit.ConfigError
	if !errors.As(err, &ce) {
		return fmt.Errorf("rate limits: %w", err)
	}
	name := limitFlag(ce.Field)
	if name == "" {
		return fmt.Errorf("rate limits: %w", err)
	}
	return &ratelimit.ConfigError{Field: "--" + name, Value: ce.Value,
		Reason: ce.Reason}
}

// limitFlag returns the flag that sets a field of ratelimit.Config, or ""
// for the fields that come from the token file.
func limitFlag(field string) string {
	switch field {
	case "Download.Rate":
		return "rate-download"
	case "Download.Burst":
		return "burst-download"
	case "API.Rate":
		return "rate-api"
	case "API.Burst":
		return "burst-api"
	case "IPv6Prefix":
		return "ipv6-prefix"
	case "MaxClients":
		return "max-clients"
	case "IdleTimeout":
		return "client-idle"
	}
	return ""
}

// newLimiter returns the limiter of the settings that validate checked,
// or nil when limiting is off.
func (o *limitOptions) newLimiter() (*ratelimit.Limiter, error) {
	if !o.enabled {
		return nil, nil
	}
	lim, err := ratelimit.New(o.cfg, time.Now)
	if err != nil {
		return nil, fmt.Errorf("rate limits: %w", err)
	}
	return lim, nil
}

// sweepClients removes idle clients once a minute until ctx is done.
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
