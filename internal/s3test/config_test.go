package s3test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestWeedArgsLoopbackOnly(t *testing.T) {
	args := weedArgs("/state", ports{base: 21000}, "models")
	want := []string{
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-master.telemetry=false",
		"-logdir=/state/logs",
		"-dir=/state/data",
		"-master.port=21000",
		"-s3.port=21003",
		"-admin.port=21004",
		"-admin.port.legacy=0",
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-webdav=false",
		"-filer.localSocket=/state/filer.sock",
		"-s3.localSocket=/state/s3.sock",
		"-bucket=models",
	}
	for _, arg := range want {
		if !slices.Contains(args, arg) {
			t.Errorf("weedArgs() = %q, missing %q", args, arg)
		}
	}
	// Global flags such as -logdir must come before the subcommand.
	if logdir, mini := slices.Index(args, "-logdir=/state/logs"),
		slices.Index(args, "mini"); logdir > mini {
		t.Errorf("weedArgs() = %q, want -logdir before mini", args)
	}
}

func TestWriteIAMConfigSessionLength(t *testing.T) {
	tests := []struct {
		tokenDuration time.Duration
		wantMax       string
	}{
		{5 * time.Second, "5s"},
		{time.Hour, "1h0m0s"},
		{24 * time.Hour, "12h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.tokenDuration.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "iam.json")
			if err := writeIAMConfig(path, "models", tt.tokenDuration); err != nil {
				t.Fatal(err)
			}
			var config struct {
				STS struct {
					TokenDuration    string `json:"tokenDuration"`
					MaxSessionLength string `json:"maxSessionLength"`
					SigningKey       string `json:"signingKey"`
				} `json:"sts"`
			}
			readJSON(t, path, &config)
			if got := config.STS.MaxSessionLength; got != tt.wantMax {
				t.Errorf("maxSessionLength = %q, want %q", got, tt.wantMax)
			}
			if got, want := config.STS.TokenDuration, tt.tokenDuration.String(); got != want {
				t.Errorf("tokenDuration = %q, want %q", got, want)
			}
			if len(config.STS.SigningKey) != 44 {
				t.Errorf("signingKey %q has length %d, want 44 (base64 of 32 bytes)",
					config.STS.SigningKey, len(config.STS.SigningKey))
			}
		})
	}
}

func TestNewKeyPairRandom(t *testing.T) {
	a, b := newKeyPair(), newKeyPair()
	if a.AccessKey == b.AccessKey || a.SecretKey == b.SecretKey {
		t.Errorf("newKeyPair() twice = %+v and %+v, want different keys", a, b)
	}
	if len(a.AccessKey) != 20 {
		t.Errorf("access key %q has length %d, want 20", a.AccessKey, len(a.AccessKey))
	}
}

func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		tb.Fatalf("decode %s: %v", path, err)
	}
}
