package main

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestServeCORSOriginsFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string
		wantErr bool
	}{
		{"default", nil, nil, []string{"*"}, false},
		{"list", []string{"--cors-origins",
			"https://a.example, http://localhost:3000"}, nil,
			[]string{"https://a.example", "http://localhost:3000"}, false},
		{"environment", nil,
			map[string]string{"MODELGATE_CORS_ORIGINS": "https://b.example"},
			[]string{"https://b.example"}, false},
		{"not an origin", []string{"--cors-origins", "b.example"}, nil,
			nil, true},
		{"star in a list", []string{"--cors-origins",
			"*,https://a.example"}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, args := parseServeFlags(t, tt.args, tt.env)
			err := o.validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("validate() with %q = %v, want error %v", args,
					err, tt.wantErr)
			}
			if !slices.Equal(o.corsOrigins, tt.want) {
				t.Errorf("origins = %q, want %q", o.corsOrigins, tt.want)
			}
		})
	}
}

// parseServeFlags parses "--bucket models" and args as serve's flags,
// with env as the environment, and returns the options and all the
// arguments parsed.
func parseServeFlags(tb testing.TB, args []string,
	env map[string]string,
) (*serveOptions, []string) {
	tb.Helper()
	var o serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.register(fs)
	args = append([]string{"--bucket", "models"}, args...)
	getenv := func(k string) string { return env[k] }
	if err := parseFlags(fs, args, getenv); err != nil {
		tb.Fatalf("parseFlags(%q): %v", args, err)
	}
	return &o, args
}
