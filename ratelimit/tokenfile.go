package ratelimit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
)

// TokenFile is the content of a token file, ready for Config.Tiers and
// Config.Tokens.
type TokenFile struct {
	Tiers  map[string]Tier
	Tokens map[[32]byte]string // SHA-256 of a bearer token -> tier name
}

// tokenEntry is one element of the "tokens" array.
type tokenEntry struct {
	SHA256  string `json:"sha256"`
	Tier    string `json:"tier"`
	Comment string `json:"comment"`
}

// LoadTokenFile reads a JSON token file of this form:
//
//	{
//	  "tiers": {
//	    "partner": {
//	      "download": {"rate": 50, "burst": 200},
//	      "api": {"rate": 20, "burst": 100}
//	    }
//	  },
//	  "tokens": [
//	    {"sha256": "<64 hex digits>", "tier": "partner", "comment": "CI"}
//	  ]
//	}
//
// "sha256" is the SHA-256 of the bearer token in hex, as printed by
// `printf %s "$TOKEN" | sha256sum`. The file never contains a token.
// "comment" is free text for operators. Unknown fields are errors.
//
// An error names the file, the line and the entry, and states the fix. It
// never repeats a "sha256" value, in case a token was pasted there.
func LoadTokenFile(path string) (TokenFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return TokenFile{}, fmt.Errorf("read token file: %w", err)
	}
	tf, err := parseTokenFile(data)
	if err != nil {
		return TokenFile{}, fmt.Errorf("token file %s: %w", path, err)
	}
	return tf, nil
}

// tokenFileParser decodes the file one element at a time so that errors can
// give the line of each entry.
type tokenFileParser struct {
	data  []byte
	dec   *json.Decoder
	file  TokenFile
	lines map[[32]byte]int // line of each token entry
}

func parseTokenFile(data []byte) (TokenFile, error) {
	p := &tokenFileParser{
		data:  data,
		dec:   json.NewDecoder(bytes.NewReader(data)),
		file:  TokenFile{Tiers: map[string]Tier{}, Tokens: map[[32]byte]string{}},
		lines: map[[32]byte]int{},
	}
	p.dec.DisallowUnknownFields()

	// Check the syntax first, because json.Unmarshal reports the offset of
	// a syntax error from the start of the file, where Decoder reports it
	// from the start of the current value.
	var syntax any
	if err := json.Unmarshal(data, &syntax); err != nil {
		return TokenFile{}, p.describe(err, 0)
	}
	if err := p.parse(); err != nil {
		return TokenFile{}, err
	}
	return p.file, nil
}

// token and decode wrap the decoder's methods and add the position to its
// errors.
func (p *tokenFileParser) token() (json.Token, error) {
	t, err := p.dec.Token()
	if err != nil && err != io.EOF {
		return nil, p.describe(err, 0)
	}
	return t, err
}

// decode decodes the next value. Decoder reports offsets within the value,
// so decode adds the offset where the value starts.
func (p *tokenFileParser) decode(v any) error {
	start := p.nextOffset()
	if err := p.dec.Decode(v); err != nil {
		return p.describe(err, start)
	}
	return nil
}

func (p *tokenFileParser) parse() error {
	if err := p.expectDelim('{', "the file must be a JSON object"); err != nil {
		return err
	}
	for p.dec.More() {
		line := p.nextLine()
		name, err := p.token()
		if err != nil {
			return err
		}
		switch name {
		case "tiers":
			err = p.parseTiers()
		case "tokens":
			err = p.parseTokens()
		default:
			err = fmt.Errorf("line %d: unknown field %q: want \"tiers\" "+
				"or \"tokens\"", line, name)
		}
		if err != nil {
			return err
		}
	}
	if _, err := p.token(); err != nil { // the closing brace
		return err
	}
	return p.checkTiers()
}

func (p *tokenFileParser) parseTiers() error {
	if err := p.expectDelim('{', `"tiers" must be an object`); err != nil {
		return err
	}
	for p.dec.More() {
		line := p.nextLine()
		token, err := p.token()
		if err != nil {
			return err
		}
		name := token.(string) // object keys are always strings
		var tier Tier
		if err := p.decode(&tier); err != nil {
			return fmt.Errorf("tiers[%q] at line %d: %w", name, line, err)
		}
		if err := p.addTier(name, tier); err != nil {
			return fmt.Errorf("tiers[%q] at line %d: %w", name, line, err)
		}
	}
	_, err := p.token()
	return err
}

func (p *tokenFileParser) addTier(name string, tier Tier) error {
	if name == "" {
		return errors.New("empty tier name: give the tier a name")
	}
	if _, dup := p.file.Tiers[name]; dup {
		return errors.New("duplicate tier: merge or rename it")
	}
	err := validateLimit(tier.Download, "download.rate", "download.burst")
	if err != nil {
		return err
	}
	if err := validateLimit(tier.API, "api.rate", "api.burst"); err != nil {
		return err
	}
	tier.Name = name
	p.file.Tiers[name] = tier
	return nil
}

func (p *tokenFileParser) parseTokens() error {
	if err := p.expectDelim('[', `"tokens" must be an array`); err != nil {
		return err
	}
	for i := 0; p.dec.More(); i++ {
		line := p.nextLine()
		var e tokenEntry
		if err := p.decode(&e); err != nil {
			return fmt.Errorf("tokens[%d] at line %d: %w", i, line, err)
		}
		if err := p.addToken(e, line); err != nil {
			return fmt.Errorf("tokens[%d] at line %d: %w", i, line, err)
		}
	}
	_, err := p.token()
	return err
}

func (p *tokenFileParser) addToken(e tokenEntry, line int) error {
	sum, err := parseHash(e.SHA256)
	if err != nil {
		return err
	}
	if e.Tier == "" {
		return errors.New(`missing "tier": name a tier from "tiers"`)
	}
	if first, dup := p.lines[sum]; dup {
		return fmt.Errorf("duplicate sha256, first listed at line %d: "+
			"remove one entry", first)
	}
	p.file.Tokens[sum] = e.Tier
	p.lines[sum] = line
	return nil
}

// parseHash decodes a hex SHA-256 without echoing it in the error.
func parseHash(s string) ([32]byte, error) {
	var sum [32]byte
	if len(s) != 64 {
		return sum, fmt.Errorf(`"sha256" has %d characters, want the 64 hex `+
			`digits of the token's SHA-256 (printf %%s "$TOKEN" | sha256sum); `+
			`never put the token itself in the file`, len(s))
	}
	if _, err := hex.Decode(sum[:], []byte(s)); err != nil {
		return sum, errors.New(`"sha256" is not hexadecimal: want the 64 ` +
			`hex digits of the token's SHA-256`)
	}
	return sum, nil
}

// checkTiers runs after the whole file is read, because "tokens" may come
// before "tiers".
func (p *tokenFileParser) checkTiers() error {
	for sum, tier := range p.file.Tokens {
		if _, ok := p.file.Tiers[tier]; !ok {
			return fmt.Errorf("token at line %d: tier %q not found in "+
				`"tiers": define it or fix the name`, p.lines[sum], tier)
		}
	}
	return nil
}

func (p *tokenFileParser) expectDelim(want json.Delim, msg string) error {
	line := p.nextLine()
	token, err := p.token()
	if err == io.EOF {
		return fmt.Errorf("line %d: unexpected end of file: %s", line, msg)
	}
	if err != nil {
		return err
	}
	if token != want {
		return fmt.Errorf("line %d: %s", line, msg)
	}
	return nil
}

// nextLine returns the line of the next value in the input.
func (p *tokenFileParser) nextLine() int {
	off := p.nextOffset()
	for off < len(p.data) && isJSONSpace(p.data[off]) {
		off++
	}
	line, _ := position(p.data, off)
	return line
}

// nextOffset returns the offset just after the comma or colon that comes
// before the next value, or of the next value if there is none. Decoder
// counts offsets within a value from there.
func (p *tokenFileParser) nextOffset() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) && isJSONSpace(p.data[off]) {
		off++
	}
	if off < len(p.data) && (p.data[off] == ',' || p.data[off] == ':') {
		return off + 1
	}
	return off
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// describe adds the line and column to decoder errors that carry an
// offset, plus base, and adds the fix where it can name one.
func (p *tokenFileParser) describe(err error, base int) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		// Offset counts the invalid byte, except at the end of the input.
		off := base + int(syntax.Offset)
		if off < len(p.data) {
			off--
		}
		line, col := position(p.data, off)
		return fmt.Errorf("line %d, column %d: invalid JSON: %w",
			line, col, err)
	case errors.As(err, &typ):
		line, col := position(p.data, base+int(typ.Offset))
		return fmt.Errorf("line %d, column %d: invalid value for %q: "+
			"got a JSON %s, want %s", line, col, typ.Field, typ.Value,
			jsonKind(typ.Type))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("unexpected end of file: %w", err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("%s: check the spelling; the fields are tiers, "+
			"download, api, rate, burst, tokens, sha256, tier and comment",
			strings.TrimPrefix(err.Error(), "json: "))
	}
	return err
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8,
		reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint,
		reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return t.String()
}

// position returns the 1-based line and column of byte offset off.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = off - bytes.LastIndexByte(before, '\n')
	return line, col
}
