package main

import (
	"bytes"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestByteSizeSet(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16MiB", 16 << 20, true},
		{"5 mib", 5 << 20, true},
		{"1GiB", 1 << 30, true},
		{"2KB", 2000, true},
		{"1000", 1000, true},
		{"7B", 7, true},
		{"MiB", 0, false},
		{"-1MiB", 0, false},
		{"1.5MiB", 0, false},
		{"9999999999GiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b byteSize
			err := b.Set(tt.in)
			if (err == nil) != tt.ok || int64(b) != tt.want {
				t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tt.in, b,
					err, tt.want, tt.ok)
			}
		})
	}
}

func TestFormatSizeParsesBack(t *testing.T) {
	for _, n := range []int64{0, 1000, 5 << 20, 16 << 20, 3 << 30,
		5<<20 + 1} {
		var b byteSize
		if err := b.Set(formatSize(n)); err != nil || int64(b) != n {
			t.Errorf("Set(formatSize(%d) = %q) = %d, %v", n,
				formatSize(n), b, err)
		}
	}
}

func TestParseFlagsAndArgs(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		want  []string
		model string
	}{
		{"folder first", []string{"dir", "--model", "a/b"}, nil,
			[]string{"dir"}, "a/b"},
		{"folder last", []string{"--model", "a/b", "dir"}, nil,
			[]string{"dir"}, "a/b"},
		{"from env", []string{"dir"},
			map[string]string{"MODELGATE_MODEL": "c/d"},
			[]string{"dir"}, "c/d"},
		{"flag wins", []string{"dir", "--model", "a/b"},
			map[string]string{"MODELGATE_MODEL": "c/d"},
			[]string{"dir"}, "a/b"},
		{"after dashes", []string{"--model", "a/b", "--", "-dir", "x"},
			nil, []string{"-dir", "x"}, "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o publishOptions
			fs := newFlagSet("publish", "", io.Discard)
			o.register(fs)
			got, err := parseFlagsAndArgs(fs, tt.args,
				func(k string) string { return tt.env[k] }, 2)
			if err != nil {
				t.Fatalf("parseFlagsAndArgs(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) || o.cfg.Model != tt.model {
				t.Errorf("parseFlagsAndArgs(%q) = %q, model %q; want %q, "+
					"%q", tt.args, got, o.cfg.Model, tt.want, tt.model)
			}
		})
	}
}

func TestRunPublishUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no folder", []string{"--bucket", "b", "--model", "a/b"},
			"missing the folder to publish"},
		{"two folders", []string{"dir", "other", "--bucket", "b",
			"--model", "a/b"}, `unexpected argument "other"`},
		{"boolean with a space", []string{"dir", "--bucket", "b",
			"--model", "a/b", "--dry-run", "false"},
			`unexpected argument "false" after --dry-run; boolean ` +
				"flags take the form --dry-run=false"},
		{"reserved model", []string{"dir", "--bucket", "b", "--model",
			"api/models"}, `model "api/models" is reserved`},
		{"no model", []string{"dir", "--bucket", "b"},
			"--model is required"},
		{"bad model", []string{"dir", "--bucket", "b", "--model", "a"},
			"is not ORG/NAME"},
		{"small parts", []string{"dir", "--bucket", "b", "--model",
			"a/b", "--part-size", "1MiB"}, "5MiB to 5GiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(append([]string{"publish"}, tt.args...),
				io.Discard, &stderr, func(string) string { return "" }, nil)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("publish %q = exit %d, %q; want exit 2 and %q",
					tt.args, code, stderr.String(), tt.want)
			}
		})
	}
}
