package ratelimit

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"time"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultIPv6Prefix  = 64
	DefaultMaxClients  = 100_000
	DefaultIdleTimeout = 10 * time.Minute
)

// Ranges accepted by [Config.Validate].
const (
	MinRate         = 0.001 // tokens per second: one per 1000 s
	MaxRate         = 1_000_000
	MaxBurst        = 1_000_000
	MinIPv6Prefix   = 32
	MaxClientsLimit = math.MaxInt32
	maxTokenPrefix  = 8 // hex digits of a token hash shown in errors and logs
)

// Budget selects which of a client's two token buckets a request draws from.
type Budget uint8

const (
	// Download is the budget for resolve (file download) requests.
	Download Budget = iota
	// API is the budget for API and page requests.
	API
	numBudgets
)

// String returns "download" or "api".
func (b Budget) String() string {
	switch b {
	case Download:
		return "download"
	case API:
		return "api"
	}
	return fmt.Sprintf("Budget(%d)", uint8(b))
}

// Limit is a token bucket: Rate tokens per second refill it up to Burst
// tokens, and each request takes one.
type Limit struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Tier is a named pair of limits for clients that present a known token.
type Tier struct {
	Name     string `json:"-"`
	Download Limit  `json:"download"`
	API      Limit  `json:"api"`
}

func (t Tier) limit(b Budget) Limit {
	if b == API {
		return t.API
	}
	return t.Download
}

// Config is the limiter's configuration. Zero IPv6Prefix, MaxClients and
// IdleTimeout mean the defaults. Download and API have no default.
type Config struct {
	// Download and API are the limits for clients without a known token.
	Download, API Limit

	// Tiers are the limits for known tokens, by tier name. Each Tier's Name
	// must equal its key.
	Tiers map[string]Tier

	// Tokens maps the SHA-256 of a bearer token to a tier name in Tiers.
	Tokens map[[32]byte]string

	// TrustedProxies are the peers whose X-Forwarded-For and Forwarded
	// headers are read. An IPv4-mapped IPv6 prefix of at least 96 bits
	// counts as the IPv4 prefix. ::/0 does not cover IPv4 peers.
	TrustedProxies []netip.Prefix

	// IPv6Prefix is the prefix length that groups IPv6 clients, from
	// MinIPv6Prefix to 128. Zero means DefaultIPv6Prefix.
	IPv6Prefix int

	// MaxClients is the maximum number of client addresses tracked, from 1
	// to MaxClientsLimit. Zero means DefaultMaxClients.
	MaxClients int

	// IdleTimeout is how long after its last request a client may be
	// forgotten, which happens only once its buckets are full: by Sweep, or
	// lazily when a new client is inserted. Zero means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Validate returns a [*ConfigError] for the first invalid setting, or nil.
// The error never includes a token hash beyond its first 8 hex digits.
func (c Config) Validate() error {
	if err := c.Download.validate("Download"); err != nil {
		return err
	}
	if err := c.API.validate("API"); err != nil {
		return err
	}
	if err := validateTiers(c.Tiers); err != nil {
		return err
	}
	if err := validateTokens(c.Tokens, c.Tiers); err != nil {
		return err
	}
	if err := validateProxies(c.TrustedProxies); err != nil {
		return err
	}
	return c.validateSizes()
}

func (c Config) validateSizes() error {
	if c.IPv6Prefix != 0 &&
		(c.IPv6Prefix < MinIPv6Prefix || c.IPv6Prefix > 128) {
		return &ConfigError{Field: "IPv6Prefix",
			Value: strconv.Itoa(c.IPv6Prefix),
			Reason: fmt.Sprintf("want 0 (default %d) or a prefix length "+
				"from %d to 128", DefaultIPv6Prefix, MinIPv6Prefix)}
	}
	if c.MaxClients < 0 || c.MaxClients > MaxClientsLimit {
		return &ConfigError{Field: "MaxClients",
			Value: strconv.Itoa(c.MaxClients),
			Reason: fmt.Sprintf("want 0 (default %d) or a count from 1 to %d",
				DefaultMaxClients, MaxClientsLimit)}
	}
	if c.IdleTimeout < 0 {
		return &ConfigError{Field: "IdleTimeout",
			Value: c.IdleTimeout.String(),
			Reason: fmt.Sprintf("want 0 (default %v) or a positive duration",
				DefaultIdleTimeout)}
	}
	return nil
}

// validate checks one limit. name is the setting, such as "Download".
func (l Limit) validate(name string) error {
	return validateLimit(l, name+".Rate", name+".Burst")
}

// validateLimit checks one limit and names the invalid field with rateName
// or burstName.
func validateLimit(l Limit, rateName, burstName string) error {
	if math.IsNaN(l.Rate) || l.Rate < MinRate || l.Rate > MaxRate {
		return &ConfigError{Field: rateName, Value: fmt.Sprint(l.Rate),
			Reason: fmt.Sprintf("want tokens per second from %v to %d",
				MinRate, MaxRate)}
	}
	if l.Burst < 1 || l.Burst > MaxBurst {
		return &ConfigError{Field: burstName, Value: strconv.Itoa(l.Burst),
			Reason: fmt.Sprintf("want a token count from 1 to %d", MaxBurst)}
	}
	return nil
}

func validateTiers(tiers map[string]Tier) error {
	for _, name := range sortedKeys(tiers) {
		t := tiers[name]
		setting := fmt.Sprintf("Tiers[%q]", name)
		if name == "" {
			return &ConfigError{Field: "Tiers",
				Reason: "a tier name is empty"}
		}
		if t.Name != name {
			return &ConfigError{Field: setting + ".Name",
				Value:  strconv.Quote(t.Name),
				Reason: "want the map key " + strconv.Quote(name)}
		}
		if err := t.Download.validate(setting + ".Download"); err != nil {
			return err
		}
		if err := t.API.validate(setting + ".API"); err != nil {
			return err
		}
	}
	return nil
}

func validateTokens(tokens map[[32]byte]string, tiers map[string]Tier) error {
	for sum, tier := range tokens {
		if _, ok := tiers[tier]; !ok {
			return &ConfigError{Field: "Tokens[" + shortHash(sum) + "…]",
				Reason: fmt.Sprintf("tier %q not found in Tiers", tier)}
		}
	}
	return nil
}

func validateProxies(proxies []netip.Prefix) error {
	for i, p := range proxies {
		if !p.IsValid() {
			return &ConfigError{
				Field:  "TrustedProxies[" + strconv.Itoa(i) + "]",
				Value:  p.String(),
				Reason: "want a CIDR prefix such as 10.0.0.0/8"}
		}
	}
	return nil
}

// ConfigError is an invalid setting, as [Config.Validate] reports it.
// [LoadTokenFile] wraps one for an invalid limit in a tier.
type ConfigError struct {
	// Field is the setting: a field path of Config such as
	// "Download.Rate" or `Tiers["gold"].API.Burst`, or the JSON path in a
	// token file such as "download.rate".
	Field string

	// Value is the invalid value as text. It is empty when the message
	// would not show it.
	Value string

	// Reason describes the problem, usually "want" and the valid values.
	Reason string
}

// Error returns "invalid FIELD VALUE: REASON", without VALUE when it is
// empty.
func (e *ConfigError) Error() string {
	if e.Value == "" {
		return "invalid " + e.Field + ": " + e.Reason
	}
	return "invalid " + e.Field + " " + e.Value + ": " + e.Reason
}

// withDefaults returns c with the zero sizes replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = DefaultIPv6Prefix
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
