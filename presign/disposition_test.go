package presign

import (
	"mime"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestContentDisposition(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "attachment"},
		{"plain", "model.safetensors",
			`attachment; filename="model.safetensors"; filename*=UTF-8''model.safetensors`},
		{"space", "my model.bin", `attachment; filename="my model.bin"; filename*=UTF-8''my%20model.bin`},
		{"plus", "a+b.txt", `attachment; filename="a+b.txt"; filename*=UTF-8''a+b.txt`},
		{"parentheses", "weights (1).bin",
			`attachment; filename="weights (1).bin"; filename*=UTF-8''weights%20%281%29.bin`},
		{"equals", "a=b.json", `attachment; filename="a=b.json"; filename*=UTF-8''a%3Db.json`},
		{"semicolon", "a;b.txt", `attachment; filename="a;b.txt"; filename*=UTF-8''a%3Bb.txt`},
		{"percent", "100%.txt",
			`attachment; filename="100_.txt"; filename*=UTF-8''100%25.txt`},
		{"quote", `say "hi".txt`,
			`attachment; filename="say _hi_.txt"; ` +
				`filename*=UTF-8''say%20%22hi%22.txt`},
		{"backslash", `a\b.txt`,
			`attachment; filename="a_b.txt"; filename*=UTF-8''a%5Cb.txt`},
		{"attr-char punctuation", "!#$&+-.^_`|~\x7f",
			"attachment; filename=\"!#$&+-.^_`|~_\"; " +
				"filename*=UTF-8''!#$&+-.^_`|~%7F"},
		{"e acute", "café.txt",
			`attachment; filename="caf_.txt"; filename*=UTF-8''caf%C3%A9.txt`},
		{"japanese", "日本語.txt",
			`attachment; filename="___.txt"; ` +
				`filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt`},
		{"emoji", "🤗.bin",
			`attachment; filename="_.bin"; filename*=UTF-8''%F0%9F%A4%97.bin`},
		{"newline", "a\r\nb",
			`attachment; filename="a__b"; filename*=UTF-8''a%0D%0Ab`},
		{"nul", "a\x00b",
			`attachment; filename="a_b"; filename*=UTF-8''a%00b`},
		{"invalid utf-8", "a\xffb",
			`attachment; filename="a_b"; filename*=UTF-8''a%EF%BF%BDb`},
		{"truncated rune", "x\xe6\x97",
			`attachment; filename="x_"; filename*=UTF-8''x%EF%BF%BD`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ContentDisposition(tt.in)
			if got != tt.want {
				t.Errorf("ContentDisposition(%q) = %q, want %q",
					tt.in, got, tt.want)
			}
			checkDisposition(t, tt.in, got)
		})
	}
}

// checkDisposition checks the properties every ContentDisposition result
// must have: printable ASCII only, an "attachment" type that Go's MIME
// parser accepts, and a filename that decodes to the input with invalid
// UTF-8 replaced by U+FFFD.
func checkDisposition(t testing.TB, name, value string) {
	t.Helper()
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < 0x20 || c > 0x7e {
			t.Fatalf("ContentDisposition(%q) = %q, has byte %#x at %d",
				name, value, c, i)
		}
	}

	mediaType, params, err := mime.ParseMediaType(value)
	if err != nil {
		t.Fatalf("mime.ParseMediaType(%q) error: %v", value, err)
	}
	if mediaType != "attachment" {
		t.Errorf("mime.ParseMediaType(%q) type = %q, want %q",
			value, mediaType, "attachment")
	}

	want := strings.ToValidUTF8(name, "\uFFFD")
	got, ok := params["filename"]
	if name == "" {
		if ok {
			t.Errorf("mime.ParseMediaType(%q) filename = %q, want none",
				value, got)
		}
		return
	}
	if got != want {
		t.Errorf("mime.ParseMediaType(%q) filename = %q, want %q",
			value, got, want)
	}
}

func TestContentDispositionFallbackIsASCII(t *testing.T) {
	names := []string{"日本語.txt", "café", "🤗", "a\xffb", `"\%`}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			value := ContentDisposition(name)
			fallback := quotedFilename(t, value)
			if n := utf8.RuneCountInString(
				strings.ToValidUTF8(name, "\uFFFD")); len(fallback) != n {
				t.Errorf("fallback %q has %d bytes, want one per rune (%d)",
					fallback, len(fallback), n)
			}
			if strings.ContainsAny(fallback, `"\%`) {
				t.Errorf("fallback %q contains '\"', '\\' or '%%'", fallback)
			}
		})
	}
}

// quotedFilename returns the content of the quoted filename parameter in a
// ContentDisposition result.
func quotedFilename(t testing.TB, value string) string {
	t.Helper()
	const prefix = `attachment; filename="`
	rest, ok := strings.CutPrefix(value, prefix)
	if !ok {
		t.Fatalf("value %q does not start with %q", value, prefix)
	}
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		t.Fatalf("value %q has no closing quote", value)
	}
	return rest[:end]
}

func FuzzContentDisposition(f *testing.F) {
	for _, seed := range []string{
		"", "model.safetensors", "a b", "é", "\xff", "\r\n", `"\`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkDisposition(t, name, ContentDisposition(name))
	})
}

func BenchmarkContentDisposition(b *testing.B) {
	names := []struct{ label, name string }{
		{"ascii", "model-00001-of-00004.safetensors"},
		{"unicode", "日本語モデル.safetensors"},
	}
	for _, n := range names {
		b.Run(n.label, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ContentDisposition(n.name)
			}
		})
	}
}
