package ratelimit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const (
	knownToken   = "hf_KnownPartnerTokenAbcdefghijklmnop"
	unknownToken = "hf_SomeoneElsesHuggingFaceTokenXyz12"
)

func tokenConfig() Config {
	cfg := testConfig() // anonymous Download burst 3
	cfg.Tiers = map[string]Tier{
		"partner": {
			Name:     "partner",
			Download: Limit{Rate: 1, Burst: 10},
			API:      Limit{Rate: 1, Burst: 20},
		},
	}
	cfg.Tokens = map[[32]byte]string{HashToken(knownToken): "partner"}
	return cfg
}

func TestTokenTiers(t *testing.T) {
	tests := []struct {
		name    string
		remotes []string // requests rotate over these peers
		auth    string   // Authorization field, "" for none
		budget  Budget
		want    int // allowed of 30
		wantKey string
	}{
		{"known token", []string{"192.0.2.1:1"}, "Bearer " + knownToken,
			Download, 10, "token:partner:"},
		{"known token from many addresses",
			[]string{"192.0.2.1:1", "198.51.100.2:2", "[2001:db8::1]:3"},
			"Bearer " + knownToken, Download, 10, "token:partner:"},
		{"known token API budget", []string{"192.0.2.1:1"},
			"Bearer " + knownToken, API, 20, "token:partner:"},
		{"scheme is case-insensitive", []string{"192.0.2.1:1"},
			"bearer  " + knownToken, Download, 10, "token:partner:"},
		{"unknown token", []string{"192.0.2.1:1"},
			"Bearer " + unknownToken, Download, 3, "192.0.2.1"},
		{"known token with Basic scheme", []string{"192.0.2.1:1"},
			"Basic " + knownToken, Download, 3, "192.0.2.1"},
		{"no token", []string{"192.0.2.1:1"}, "", Download, 3, "192.0.2.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := newTestLimiter(t, tokenConfig())
			allowed := 0
			for i := range 30 {
				r := newRequest(t, tc.remotes[i%len(tc.remotes)])
				if tc.auth != "" {
					r.Header.Set("Authorization", tc.auth)
				}
				d := l.Allow(r, tc.budget)
				if !strings.HasPrefix(d.Key.String(), tc.wantKey) {
					t.Fatalf("Key = %v, want prefix %q", d.Key, tc.wantKey)
				}
				if d.Allowed {
					allowed++
				}
			}
			if allowed != tc.want {
				t.Errorf("allowed %d of 30, want %d", allowed, tc.want)
			}
		})
	}
}

// TestUnknownTokenSharesAddressBudget checks that an unknown token gives no
// budget of its own: it shares the address's anonymous bucket.
func TestUnknownTokenSharesAddressBudget(t *testing.T) {
	l, _ := newTestLimiter(t, tokenConfig()) // anonymous Download burst 3
	anonymous := newRequest(t, "192.0.2.1:1")
	withToken := newRequest(t, "192.0.2.1:2",
		"Authorization", "Bearer "+unknownToken)
	otherToken := newRequest(t, "192.0.2.1:3",
		"Authorization", "Bearer hf_another")

	got := countAllowed(l, anonymous, Download, 1) +
		countAllowed(l, withToken, Download, 1) +
		countAllowed(l, otherToken, Download, 5)
	if got != 3 {
		t.Errorf("allowed %d of 7 requests from one address with and "+
			"without unknown tokens, want 3", got)
	}
	if n := l.Tracked(); n != 1 {
		t.Errorf("Tracked() = %d, want 1", n)
	}
}

// TestTokenNeverShown checks the places where a key or a configuration
// could show a token: Key text, formatted decisions, logs and errors.
func TestTokenNeverShown(t *testing.T) {
	sum := HashToken(knownToken)
	fullHash := hex.EncodeToString(sum[:])
	secrets := []string{knownToken, unknownToken, fullHash}

	l, _ := newTestLimiter(t, tokenConfig())
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	var shown []string
	for _, token := range []string{knownToken, unknownToken} {
		r := newRequest(t, "192.0.2.1:1", "Authorization", "Bearer "+token)
		k := l.ClientKey(r)
		d := l.Allow(r, Download)
		logger.Info("request", "client", k, "decision", d.Key)
		shown = append(shown, k.String(),
			fmt.Sprintf("%v %+v %#v", k, k, k),
			fmt.Sprintf("%v %+v %#v", d, d, d))
	}

	cfg := tokenConfig()
	cfg.Tokens[sum] = "missing-tier"
	if err := cfg.Validate(); err == nil {
		t.Errorf("Validate() with an unknown tier = nil, want an error")
	} else {
		shown = append(shown, err.Error())
	}
	_, err := New(cfg, nil)
	if err == nil {
		t.Errorf("New() with an unknown tier = nil error, want an error")
	} else {
		shown = append(shown, err.Error())
	}
	shown = append(shown, logs.String())

	for _, text := range shown {
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("output %q contains the secret %q", text, secret)
			}
		}
	}
	if !strings.Contains(logs.String(), `"client":"token:partner:`+
		fullHash[:8]+`"`) {
		t.Errorf("log %s lacks the token key with an 8-digit hash prefix",
			logs.String())
	}
}

func TestHashTokenLong(t *testing.T) {
	long := strings.Repeat("x", maxStackToken+1)
	cfg := tokenConfig()
	cfg.Tokens[HashToken(long)] = "partner"
	l, _ := newTestLimiter(t, cfg)
	r := newRequest(t, "192.0.2.1:1", "Authorization", "Bearer "+long)
	if got := l.ClientKey(r).Tier(); got != "partner" {
		t.Errorf("ClientKey(%d-byte token).Tier() = %q, want partner",
			len(long), got)
	}
}
