package ratelimit

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(tb testing.TB, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "tokens.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatalf("WriteFile(%s) error = %v", path, err)
	}
	return path
}

func TestLoadTokenFile(t *testing.T) {
	sum := HashToken(knownToken)
	content := `{
  "tokens": [
    {"sha256": "` + strings.ToUpper(hex.EncodeToString(sum[:])) + `",
     "tier": "partner", "comment": "CI runner"}
  ],
  "tiers": {
    "partner": {
      "download": {"rate": 50, "burst": 200},
      "api": {"rate": 0.5, "burst": 10}
    },
    "unused": {
      "download": {"rate": 1, "burst": 1},
      "api": {"rate": 1, "burst": 1}
    }
  }
}
`
	path := writeFile(t, content)
	tf, err := LoadTokenFile(path)
	if err != nil {
		t.Fatalf("LoadTokenFile(%s) error = %v", path, err)
	}

	want := Tier{
		Name:     "partner",
		Download: Limit{Rate: 50, Burst: 200},
		API:      Limit{Rate: 0.5, Burst: 10},
	}
	if got := tf.Tiers["partner"]; got != want {
		t.Errorf("Tiers[partner] = %+v, want %+v", got, want)
	}
	if len(tf.Tiers) != 2 {
		t.Errorf("len(Tiers) = %d, want 2", len(tf.Tiers))
	}
	if got := tf.Tokens[sum]; got != "partner" || len(tf.Tokens) != 1 {
		t.Errorf("Tokens = %v, want only the known token in tier partner",
			tf.Tokens)
	}

	cfg := testConfig()
	cfg.Tiers, cfg.Tokens = tf.Tiers, tf.Tokens
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() of the loaded file = %v, want nil", err)
	}
}

func TestLoadTokenFileErrors(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tier := `"t": {"download": {"rate": 1, "burst": 2}, ` +
		`"api": {"rate": 1, "burst": 2}}`
	tests := []struct {
		name    string
		content string
		want    []string // substrings of the error
	}{
		{"syntax error",
			"{\n  \"tiers\": {\n    \"t\": {,}\n  }\n}",
			[]string{"line 3, column 11", "invalid JSON"}},
		{"not an object", `[]`,
			[]string{"line 1", "must be a JSON object"}},
		{"empty file", ``,
			[]string{"line 1, column 1", "invalid JSON"}},
		{"truncated", "{\"tiers\": {\n",
			[]string{"line 2, column 1", "invalid JSON"}},
		{"unknown top-level field", `{"tier": {}}`,
			[]string{"line 1", `unknown field "tier"`}},
		{"unknown nested field",
			"{\"tiers\": {\n" + `"t": {"download": {"rate": 1, "burts": 2}}}}`,
			[]string{`tiers["t"] at line 2`, `unknown field "burts"`,
				"check the spelling"}},
		{"wrong type",
			`{"tiers": {"t": {"download": {"rate": "fast"}}}}`,
			[]string{`tiers["t"] at line 1`, `"download.rate"`,
				"got a JSON string, want a number"}},
		{"invalid rate",
			"{\"tiers\": {\n\n" +
				`"t": {"download": {"rate": 0, "burst": 2}, ` +
				`"api": {"rate": 1, "burst": 2}}}}`,
			[]string{`tiers["t"] at line 3`, "invalid download.rate 0",
				"from 0.001 to 1000000"}},
		{"invalid burst",
			`{"tiers": {"t": {"download": {"rate": 1, "burst": 2}, ` +
				`"api": {"rate": 1}}}}`,
			[]string{`tiers["t"]`, "invalid api.burst 0", "from 1 to"}},
		{"duplicate tier",
			`{"tiers": {` + tier + `, ` + tier + `}}`,
			[]string{`tiers["t"]`, "duplicate tier"}},
		{"short hash",
			"{\"tiers\": {" + tier + "},\n\"tokens\": [\n" +
				`{"sha256": "hf_pastedTheTokenByMistake", "tier": "t"}]}`,
			[]string{"tokens[0] at line 3", "has 26 characters",
				"never put the token itself"}},
		{"non-hex hash",
			`{"tiers": {` + tier + `}, "tokens": [{"sha256": "` +
				strings.Repeat("zz", 32) + `", "tier": "t"}]}`,
			[]string{"tokens[0]", "not hexadecimal"}},
		{"missing tier name",
			`{"tokens": [{"sha256": "` + hash + `"}]}`,
			[]string{"tokens[0]", `missing "tier"`}},
		{"unknown tier",
			"{\"tokens\": [\n\n" + `{"sha256": "` + hash +
				`", "tier": "gold"}]}`,
			[]string{"token at line 3", `tier "gold" not found`}},
		{"duplicate hash",
			"{\"tiers\": {" + tier + "}, \"tokens\": [\n" +
				`{"sha256": "` + hash + `", "tier": "t"},` + "\n" +
				`{"sha256": "` + hash + `", "tier": "t"}]}`,
			[]string{"tokens[1] at line 3", "first listed at line 2"}},
		{"trailing data", `{} {}`,
			[]string{"line 1, column 4", "invalid JSON", "after top-level"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.content)
			_, err := LoadTokenFile(path)
			if err == nil {
				t.Fatalf("LoadTokenFile(%q) = nil error, want one",
					tc.content)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if strings.Contains(msg, "hf_pasted") {
				t.Errorf("error %q repeats the sha256 value", msg)
			}
		})
	}
}

func TestLoadTokenFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.json")
	_, err := LoadTokenFile(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadTokenFile(%s) error = %v, want one naming the file",
			path, err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadTokenFile(%s) error = %v, want it to wrap "+
			"fs.ErrNotExist", path, err)
	}
}
