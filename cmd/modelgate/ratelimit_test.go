package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLimitFlagErrors checks that each invalid rate-limit value fails
// validation with a message that names its flag.
func TestLimitFlagErrors(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	content := `{"tiers": {"gold": {"download": {"rate": 1, "burst": 0},
		"api": {"rate": 1, "burst": 1}}}}`
	if err := os.WriteFile(tokens, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in the error; "" for no error
	}{
		{"defaults", nil, ""},
		{"off ignores the others",
			[]string{"--rate-limit=false", "--rate-download", "0"}, ""},
		{"download rate", []string{"--rate-download", "0"},
			"invalid --rate-download 0: want tokens per second"},
		{"download burst", []string{"--burst-download", "0"},
			"invalid --burst-download 0: want a token count"},
		{"API rate", []string{"--rate-api", "2e6"},
			"invalid --rate-api 2e+06: want tokens per second"},
		{"API burst", []string{"--burst-api", "-1"},
			"invalid --burst-api -1: want a token count"},
		{"IPv6 prefix", []string{"--ipv6-prefix", "200"},
			"invalid --ipv6-prefix 200: want 0 (default 64)"},
		{"max clients", []string{"--max-clients", "-5"},
			"invalid --max-clients -5: want 0 (default 100000)"},
		{"client idle", []string{"--client-idle", "-1m"},
			"invalid --client-idle -1m0s: want 0 (default 10m0s)"},
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.1/8"},
			"--trusted-proxies: invalid trusted proxy \"10.0.0.1/8\""},
		{"missing token file", []string{"--token-file",
			filepath.Join(dir, "missing.json")},
			"--token-file: read token file: "},
		{"invalid tier in token file", []string{"--token-file", tokens},
			"--token-file: token file " + tokens},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, args := parseServeFlags(t, tt.args, nil)
			err := o.validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("validate() with %q = %v, want nil", args, err)
			case tt.want != "" && err == nil:
				t.Errorf("validate() with %q = nil, want %q", args, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("validate() with %q = %q, want it to contain %q",
					args, err, tt.want)
			}
		})
	}
}
