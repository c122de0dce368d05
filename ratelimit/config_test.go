package ratelimit

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := Limit{Rate: 1, Burst: 1}
	tier := Tier{Name: "gold", Download: valid, API: valid}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // substring of the error, "" for nil
	}{
		{"valid", func(c *Config) {}, ""},
		{"valid with everything", func(c *Config) {
			c.Tiers = map[string]Tier{"gold": tier}
			c.Tokens = map[[32]byte]string{HashToken("x"): "gold"}
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
			c.IPv6Prefix, c.MaxClients, c.IdleTimeout = 128, 1, time.Second
		}, ""},
		{"zero download rate", func(c *Config) { c.Download.Rate = 0 },
			"invalid Download.Rate 0: want tokens per second from 0.001"},
		{"NaN API rate", func(c *Config) { c.API.Rate = math.NaN() },
			"invalid API.Rate NaN"},
		{"rate too high", func(c *Config) { c.API.Rate = 2e6 },
			"invalid API.Rate 2e+06"},
		{"zero burst", func(c *Config) { c.Download.Burst = 0 },
			"invalid Download.Burst 0: want a token count from 1 to 1000000"},
		{"tier name mismatch", func(c *Config) {
			c.Tiers = map[string]Tier{"silver": tier}
		}, `invalid Tiers["silver"].Name "gold": want the map key "silver"`},
		{"tier limit", func(c *Config) {
			bad := tier
			bad.API.Burst = -1
			c.Tiers = map[string]Tier{"gold": bad}
		}, `invalid Tiers["gold"].API.Burst -1`},
		{"empty tier name", func(c *Config) {
			c.Tiers = map[string]Tier{"": {Download: valid, API: valid}}
		}, "tier name is empty"},
		{"token with unknown tier", func(c *Config) {
			c.Tokens = map[[32]byte]string{HashToken("x"): "gold"}
		}, `tier "gold" not found in Tiers`},
		{"invalid proxy", func(c *Config) {
			c.TrustedProxies = []netip.Prefix{{}}
		}, "invalid TrustedProxies[0]"},
		{"IPv6 prefix too short", func(c *Config) { c.IPv6Prefix = 16 },
			"invalid IPv6Prefix 16: want 0 (default 64) or a prefix length " +
				"from 32 to 128"},
		{"IPv6 prefix too long", func(c *Config) { c.IPv6Prefix = 129 },
			"invalid IPv6Prefix 129"},
		{"negative max clients", func(c *Config) { c.MaxClients = -1 },
			"invalid MaxClients -1: want 0 (default 100000) or a count"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -1 },
			"invalid IdleTimeout -1ns"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Download: valid, API: valid}
			tc.modify(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Errorf("Validate() = nil, want an error containing %q",
					tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestConfigErrorFields checks the parts of the error, which callers use
// to name the setting in their own terms.
func TestConfigErrorFields(t *testing.T) {
	valid := Limit{Rate: 1, Burst: 1}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   ConfigError
	}{
		{"download rate", func(c *Config) { c.Download.Rate = 0 },
			ConfigError{Field: "Download.Rate", Value: "0",
				Reason: "want tokens per second from 0.001 to 1000000"}},
		{"API burst", func(c *Config) { c.API.Burst = -1 },
			ConfigError{Field: "API.Burst", Value: "-1",
				Reason: "want a token count from 1 to 1000000"}},
		{"IPv6 prefix", func(c *Config) { c.IPv6Prefix = 200 },
			ConfigError{Field: "IPv6Prefix", Value: "200",
				Reason: "want 0 (default 64) or a prefix length from 32 " +
					"to 128"}},
		{"empty tier name", func(c *Config) {
			c.Tiers = map[string]Tier{"": {Download: valid, API: valid}}
		}, ConfigError{Field: "Tiers", Reason: "a tier name is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Download: valid, API: valid}
			tc.modify(&cfg)
			err := cfg.Validate()
			var got *ConfigError
			if !errors.As(err, &got) {
				t.Fatalf("Validate() = %v, want a *ConfigError", err)
			}
			if *got != tc.want {
				t.Errorf("Validate() = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	l, err := New(Config{}, nil)
	if err == nil || l != nil {
		t.Fatalf("New(Config{}) = %v, %v; want nil and an error", l, err)
	}
	if !strings.Contains(err.Error(), "Download.Rate") {
		t.Errorf("New(Config{}) error = %q, want it to name Download.Rate",
			err)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{" , ", nil, ""},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{"10.0.0.0/8, 192.0.2.7,2001:db8::/32 ,::1",
			[]string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128"},
			""},
		{"10.0.0.1/8", nil,
			`invalid trusted proxy "10.0.0.1/8" (entry 1): bits are set ` +
				`after the prefix length; write 10.0.0.0/8`},
		{"10.0.0.0/8, example.com", nil,
			`invalid trusted proxy "example.com" (entry 2): want an address`},
		{"10.0.0.0/33", nil,
			`invalid trusted proxy "10.0.0.0/33" (entry 1): want a CIDR prefix`},
		{"fe80::1%eth0", nil, "an IPv6 zone is not allowed; write fe80::1"},
	}
	for _, tc := range tests {
		got, err := ParseTrustedProxies(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseTrustedProxies(%q) error = %v, want %q",
					tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTrustedProxies(%q) error = %v", tc.in, err)
			continue
		}
		var gotStrings []string
		for _, p := range got {
			gotStrings = append(gotStrings, p.String())
		}
		if !slices.Equal(gotStrings, tc.want) {
			t.Errorf("ParseTrustedProxies(%q) = %v, want %v", tc.in,
				gotStrings, tc.want)
		}
	}
}

func TestNormalizeProxies(t *testing.T) {
	in := []netip.Prefix{
		netip.MustParsePrefix("::ffff:10.0.0.0/104"),
		netip.MustParsePrefix("192.0.2.9/24"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	want := []string{"10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"}
	var got []string
	for _, p := range normalizeProxies(in) {
		got = append(got, p.String())
	}
	if !slices.Equal(got, want) {
		t.Errorf("normalizeProxies(%v) = %v, want %v", in, got, want)
	}
}

func TestBudgetString(t *testing.T) {
	for b, want := range map[Budget]string{
		Download: "download", API: "api", Budget(9): "Budget(9)",
	} {
		if got := b.String(); got != want {
			t.Errorf("Budget(%d).String() = %q, want %q", b, got, want)
		}
	}
}
