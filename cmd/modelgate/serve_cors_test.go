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
			var o serveOptions
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.register(fs)
			args := append([]string{"--bucket", "models"}, tt.args...)
			getenv := func(k string) string { return tt.env[k] }
			if err := parseFlags(fs, args, getenv); err != nil {
				t.Fatalf("parseFlags(%q): %v", args, err)
			}
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
