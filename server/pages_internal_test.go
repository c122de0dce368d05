package server

import "testing"

func TestPrefersHTML(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", false},
		{"text/html", true},
		{"text/*", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9," +
			"image/avif,image/webp,*/*;q=0.8", true},
		{"application/vnd.xet-fileinfo+json, */*", false},
		{"text/html;q=0.5, application/json", false},
		{"application/json;q=0.5, text/html", true},
		{"text/html;q=0, */*", false},
		{"text/html;q=abc", false},
		{"text/html;q=2", false},
		{"TEXT/HTML", true},
		{"text/html;level=1;q=0.9, */*;q=0.1", true},
		{"image/*", false},
	}
	for _, tt := range tests {
		if got := prefersHTML(tt.accept); got != tt.want {
			t.Errorf("prefersHTML(%q) = %v, want %v", tt.accept, got,
				tt.want)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{999, "999 B"},
		{1000, "1.00 kB"},
		{1536, "1.54 kB"},
		{99_949, "99.9 kB"},
		{99_950, "100 kB"},
		{999_499, "999 kB"},
		{999_500, "1.00 MB"},
		{4_194_304, "4.19 MB"},
		{13_400_000_000, "13.4 GB"},
		{1 << 62, "4.61 EB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {123456, "123,456"},
		{1234567, "1,234,567"},
	}
	for _, tt := range tests {
		if got := formatCount(tt.n); got != tt.want {
			t.Errorf("formatCount(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"acme/model-1.0", "acme/model-1.0"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$(rm -rf ~)", "'$(rm -rf ~)'"},
		{"a;b|c&d", "'a;b|c&d'"},
		{"naïve", "'naïve'"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestQuoteString(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"acme/model", `"acme/model"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"<x>&", `"<x>&"`},
		{"line\nbreak", `"line\nbreak"`},
		{"\u2028", `"\u2028"`},
	}
	for _, tt := range tests {
		if got := quoteString(tt.in); got != tt.want {
			t.Errorf("quoteString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestPageRange(t *testing.T) {
	tests := []struct {
		n, page, size     int
		start, end, pages int
		ok                bool
	}{
		{0, 1, 100, 0, 0, 1, true},
		{0, 2, 100, 0, 0, 1, false},
		{100, 1, 100, 0, 100, 1, true},
		{101, 2, 100, 100, 101, 2, true},
		{250, 3, 100, 200, 250, 3, true},
		{250, 4, 100, 0, 0, 3, false},
	}
	for _, tt := range tests {
		start, end, pages, ok := pageRange(tt.n, tt.page, tt.size)
		if start != tt.start || end != tt.end || pages != tt.pages ||
			ok != tt.ok {
			t.Errorf("pageRange(%d, %d, %d) = %d, %d, %d, %v, "+
				"want %d, %d, %d, %v", tt.n, tt.page, tt.size,
				start, end, pages, ok, tt.start, tt.end, tt.pages, tt.ok)
		}
	}
}
